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

// maxHelloRecords bounds how many TLS records a ClientHello may be split into. Real clients
// use one; the bound keeps a hostile client sending one-byte records from making the
// sniffer reassemble thousands of them.
const maxHelloRecords = 32

// sniff reads the start of an inbound stream into buf until it can tell what the stream is,
// buf is full, or reading fails (a deadline set by the caller bounds the time). It returns
// the kind and how many bytes it consumed, all of which the caller must replay. It reads only
// what it needs: a plain-text client that sends one byte and waits is classified at once.
// The bound on bytes is len(buf); a ClientHello that does not fit is not the mesh's. The
// bytes are examined again only when a TLS record is complete, so the work stays linear
// however the client chops its writes.
func sniff(r io.Reader, buf []byte) (streamKind, int, error) {
	n, need := 0, 0
	for {
		if n >= need || n == len(buf) {
			var kind streamKind
			var done bool
			if kind, done, need = classify(buf[:n], n == len(buf)); done {
				return kind, n, nil
			}
		}
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			kind, _, _ := classify(buf[:n], true)
			return kind, n, err
		}
	}
}

// classify looks at the bytes read so far. final means no more bytes will come. When it is
// not done, need is how many bytes it takes to learn more.
func classify(b []byte, final bool) (kind streamKind, done bool, need int) {
	if len(b) == 0 {
		return streamPlain, final, 1
	}
	if b[0] != typeHandshake || (len(b) > 1 && b[1] != 3) {
		return streamPlain, true, 0
	}
	hello, need, ok := clientHello(b)
	switch {
	case !ok:
		return streamTLS, true, 0
	case hello == nil:
		return streamTLS, final, need
	case offersALPN(hello, ALPN):
		return streamMesh, true, 0
	}
	return streamTLS, true, 0
}

// clientHello reassembles the first handshake message from the TLS records at the start of b.
// ok is false when the bytes cannot be the start of a ClientHello. When the message is not
// complete yet, hello is nil and need is the length of b at which the next record would be
// complete. Reassembly across records copies; the common single-record hello does not.
func clientHello(b []byte) (hello []byte, need int, ok bool) {
	var joined []byte
	owned := false // whether joined is our copy rather than a slice of b
	at := 0
	for records := 0; ; records++ {
		rest := b[at:]
		if len(rest) < recordHeaderLen {
			// The second byte already tells TLS from plain text.
			return nil, at + min(len(rest)+1, recordHeaderLen), true
		}
		if rest[0] != typeHandshake || rest[1] != 3 || records == maxHelloRecords {
			return nil, 0, false
		}
		n := int(rest[3])<<8 | int(rest[4])
		if n == 0 || n > maxRecordPayload {
			return nil, 0, false
		}
		if len(rest) < recordHeaderLen+n {
			return nil, at + recordHeaderLen + n, true
		}
		payload := rest[recordHeaderLen : recordHeaderLen+n]
		at += recordHeaderLen + n
		switch {
		case joined == nil:
			joined = payload // the usual single-record hello is not copied
		case !owned:
			joined = append(append(make([]byte, 0, 2*(len(joined)+n)), joined...), payload...)
			owned = true
		default:
			joined = append(joined, payload...)
		}
		if len(joined) >= handshakeHeaderLen {
			if joined[0] != typeClientHello {
				return nil, 0, false
			}
			if l := messageLen(joined); l <= len(joined) {
				return joined[handshakeHeaderLen:l], 0, true
			}
		}
	}
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
