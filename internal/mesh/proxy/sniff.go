package proxy

import (
	"io"

	"golang.org/x/crypto/cryptobyte"
)

// streamKind is what the first bytes of an inbound connection look like.
type streamKind int

const (
	// streamPlain: not TLS (or nothing arrived in time).
	streamPlain streamKind = iota
	// streamTLS: TLS, but not a ClientHello offering the mesh's ALPN (an application's own
	// TLS, a scanner, or a malformed hello). It is not the mesh's, so it counts as plain text.
	streamTLS
	// streamMesh: a TLS ClientHello that offers ALPN "outrider/1".
	streamMesh
)

func (k streamKind) String() string {
	return [...]string{"plain", "tls", "mesh"}[k]
}

// TLS framing limits (RFC 8446 §5.1, §4).
const (
	recordHeaderLen    = 5
	maxRecordPayload   = 1 << 14
	handshakeHeaderLen = 4
	typeHandshake      = 0x16
	typeClientHello    = 1
	extensionALPN      = 16
)

// sniff reads the start of an inbound stream into buf until it can tell what the stream is,
// buf is full, or reading fails (a deadline set by the caller bounds the time). It returns
// the kind and how many bytes it consumed, all of which the caller must replay. It reads only
// what it needs: a plain-text client that sends one byte and waits is classified at once.
// The bound on bytes is len(buf); a ClientHello that does not fit is not the mesh's.
func sniff(r io.Reader, buf []byte) (streamKind, int, error) {
	n := 0
	for {
		if kind, done := classify(buf[:n], n == len(buf)); done {
			return kind, n, nil
		}
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			kind, _ := classify(buf[:n], true)
			return kind, n, err
		}
	}
}

// classify looks at the bytes read so far. final means no more bytes will come.
func classify(b []byte, final bool) (streamKind, bool) {
	if len(b) == 0 {
		return streamPlain, final
	}
	if b[0] != typeHandshake || (len(b) > 1 && b[1] != 3) {
		return streamPlain, true
	}
	hello, complete, ok := clientHello(b)
	switch {
	case !ok:
		return streamTLS, true
	case !complete:
		return streamTLS, final
	case offersALPN(hello, ALPN):
		return streamMesh, true
	}
	return streamTLS, true
}

// clientHello reassembles the first handshake message from the TLS records at the start of b.
// ok is false when the bytes cannot be the start of a ClientHello; complete is false when more
// bytes are needed. Reassembly across records copies; the common single-record hello does not.
func clientHello(b []byte) (msg []byte, complete, ok bool) {
	var joined []byte
	for len(b) > 0 {
		if len(b) < recordHeaderLen {
			return nil, false, true
		}
		if b[0] != typeHandshake || b[1] != 3 {
			return nil, false, false
		}
		n := int(b[3])<<8 | int(b[4])
		if n == 0 || n > maxRecordPayload {
			return nil, false, false
		}
		if len(b) < recordHeaderLen+n {
			return nil, false, true
		}
		payload := b[recordHeaderLen : recordHeaderLen+n]
		b = b[recordHeaderLen+n:]
		if joined == nil {
			joined = payload // the usual single-record hello is not copied
		} else {
			// The capacity limit makes append copy instead of writing over the bytes of b.
			joined = append(joined[:len(joined):len(joined)], payload...)
		}
		if len(joined) >= handshakeHeaderLen {
			if joined[0] != typeClientHello {
				return nil, false, false
			}
			if l := messageLen(joined); l <= len(joined) {
				return joined[handshakeHeaderLen:l], true, true
			}
		}
	}
	return nil, false, true
}

// messageLen is the length of the handshake message at the start of b, header included, or
// a value larger than b when b is too short to say.
func messageLen(b []byte) int {
	if len(b) < handshakeHeaderLen {
		return len(b) + 1
	}
	return handshakeHeaderLen + (int(b[1])<<16 | int(b[2])<<8 | int(b[3]))
}

// offersALPN parses a ClientHello body (RFC 8446 §4.1.2) and reports whether its ALPN
// extension lists proto.
func offersALPN(hello []byte, proto string) bool {
	s := cryptobyte.String(hello)
	var sessionID, suites, compression, exts cryptobyte.String
	if !s.Skip(2+32) || // legacy_version, random
		!s.ReadUint8LengthPrefixed(&sessionID) ||
		!s.ReadUint16LengthPrefixed(&suites) ||
		!s.ReadUint8LengthPrefixed(&compression) ||
		!s.ReadUint16LengthPrefixed(&exts) {
		return false
	}
	for !exts.Empty() {
		var typ uint16
		var body cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&body) {
			return false
		}
		if typ != extensionALPN {
			continue
		}
		var list cryptobyte.String
		if !body.ReadUint16LengthPrefixed(&list) {
			return false
		}
		for !list.Empty() {
			var name cryptobyte.String
			if !list.ReadUint8LengthPrefixed(&name) {
				return false
			}
			if string(name) == proto {
				return true
			}
		}
		return false
	}
	return false
}
