package proxy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"golang.org/x/net/http2/hpack"
)

// HTTP/2 (RFC 9113) request authorization. The proxy forwards the client's frames unchanged
// and in order, so the application's HPACK state stays in step with the client's; it only
// reads them. Every header block (HEADERS and its CONTINUATIONs) is decoded with a decoder
// that follows the same dynamic table, held back until it is complete, and — when it opens a
// request — authorized on :method and :path before any of it is forwarded. Other frames are
// copied through without being buffered.
//
// A refused request ends the whole connection: without rewriting the frames in both
// directions the proxy can neither answer one stream nor drop its header block (dropping it
// would desynchronise HPACK). Clients see the connection close and the request fail; the
// refusal is logged like an HTTP/1 one.

var errHTTP2 = errors.New("malformed HTTP/2 stream")

// HTTP/2 framing.
const (
	h2FrameHeaderLen   = 9
	h2TypeHeaders      = 0x1
	h2TypePushPromise  = 0x5
	h2TypeContinuation = 0x9
	h2FlagEndHeaders   = 0x4
	h2FlagPadded       = 0x8
	h2FlagPriority     = 0x20
	// maxHeaderBlock bounds a header block (frames included) and its decoded size.
	maxHeaderBlock = 256 << 10
	// maxHPACKTable bounds the dynamic table a client may ask for. Applications advertise
	// 4 KiB by default; a larger table they allowed is followed up to this size.
	maxHPACKTable = 64 << 10
)

// h2Headers collects one header block.
type h2Headers struct {
	method, path string
	pseudo       bool // a pseudo-header was seen
	size         int
}

// forwardHTTP2 forwards an HTTP/2 connection from the client's preface until the client ends
// the stream (nil), check refuses a request (its error), or the stream is malformed.
func forwardHTTP2(br *bufio.Reader, up io.Writer, count func(int), check func(method, path string) error) error {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	if err := copyN(up, br, int64(len(http2Preface)), *bp, count); err != nil {
		return err
	}
	var hs h2Headers
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		hs.size += len(f.Name) + len(f.Value) + 32
		switch f.Name {
		case ":method":
			hs.method, hs.pseudo = f.Value, true
		case ":path":
			hs.path, hs.pseudo = f.Value, true
		default:
			hs.pseudo = hs.pseudo || len(f.Name) > 0 && f.Name[0] == ':'
		}
	})
	dec.SetAllowedMaxDynamicTableSize(maxHPACKTable)
	dec.SetMaxStringLength(maxHeaderBlock)

	var block []byte   // the frames of the header block being collected
	var blockID uint32 // its stream; 0 when none is open
	var hdr [h2FrameHeaderLen]byte
	for {
		if n, err := io.ReadFull(br, hdr[:]); err != nil {
			if n == 0 && errors.Is(err, io.EOF) && blockID == 0 {
				return nil
			}
			return fmt.Errorf("%w: truncated frame", errHTTP2)
		}
		length := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		typ, flags := hdr[3], hdr[4]
		stream := binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff
		if blockID != 0 && (typ != h2TypeContinuation || stream != blockID) {
			return fmt.Errorf("%w: header block interrupted", errHTTP2)
		}
		switch typ {
		case h2TypeHeaders, h2TypeContinuation:
			if typ == h2TypeContinuation && blockID == 0 || stream == 0 {
				return fmt.Errorf("%w: stray header block frame", errHTTP2)
			}
			if len(block)+h2FrameHeaderLen+length > maxHeaderBlock {
				return fmt.Errorf("%w: header block larger than %d bytes", errHTTP2, maxHeaderBlock)
			}
			if blockID == 0 {
				hs = h2Headers{}
			}
			start := len(block) + h2FrameHeaderLen
			block = append(block, hdr[:]...)
			block = slices.Grow(block, length)[:start+length]
			if _, err := io.ReadFull(br, block[start:]); err != nil {
				return fmt.Errorf("%w: truncated frame", errHTTP2)
			}
			fragment, err := headerFragment(typ, flags, block[start:])
			if err != nil {
				return err
			}
			if _, err := dec.Write(fragment); err != nil || hs.size > maxHeaderBlock {
				return fmt.Errorf("%w: header block: %v", errHTTP2, err)
			}
			if flags&h2FlagEndHeaders == 0 {
				blockID = stream
				continue
			}
			if err := dec.Close(); err != nil {
				return fmt.Errorf("%w: header block: %v", errHTTP2, err)
			}
			blockID = 0
			// A block with pseudo-headers opens a request; one without is trailers.
			if hs.pseudo {
				if err := check(hs.method, hs.path); err != nil {
					return err
				}
			}
			if err := write(up, block, count); err != nil {
				return err
			}
			block = block[:0]
		case h2TypePushPromise:
			return fmt.Errorf("%w: PUSH_PROMISE from a client", errHTTP2)
		default:
			if err := write(up, hdr[:], count); err != nil {
				return err
			}
			if err := copyN(up, br, int64(length), *bp, count); err != nil {
				return err
			}
		}
	}
}

// headerFragment strips padding and priority from a HEADERS payload.
func headerFragment(typ, flags byte, p []byte) ([]byte, error) {
	if typ != h2TypeHeaders {
		return p, nil
	}
	pad := 0
	if flags&h2FlagPadded != 0 {
		if len(p) < 1 {
			return nil, fmt.Errorf("%w: padding", errHTTP2)
		}
		pad, p = int(p[0]), p[1:]
	}
	if flags&h2FlagPriority != 0 {
		if len(p) < 5 {
			return nil, fmt.Errorf("%w: priority", errHTTP2)
		}
		p = p[5:]
	}
	if pad > len(p) {
		return nil, fmt.Errorf("%w: padding longer than the frame", errHTTP2)
	}
	return p[:len(p)-pad], nil
}

// http2 forwards an HTTP/2 connection, each request authorized before its headers reach the
// application.
func (in *inspection) http2(br *bufio.Reader, up *idleWriter, count func(int)) error {
	err := forwardHTTP2(br, up, count, func(method, path string) error {
		if d := in.authorize(method, path); !d.Allowed {
			return &refusal{reason: string(d.Reason)}
		}
		return nil
	})
	if errors.Is(err, errHTTP2) {
		in.p.denied(in.lg, "", reasonHTTPMalformed, err.Error())
	}
	return err
}
