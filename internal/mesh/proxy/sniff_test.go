package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// helloFor returns the first bytes a TLS 1.3 client with these ALPN protocols sends.
func helloFor(t testing.TB, protos ...string) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	go tls.Client(b, &tls.Config{NextProtos: protos, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}).Handshake()
	a.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 16<<10)
	n, err := a.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	return buf[:n]
}

// fragment splits a single-record hello into records of at most size payload bytes, which
// TLS allows and a careless sniffer would misread.
func fragment(hello []byte, size int) []byte {
	payload := hello[recordHeaderLen:]
	var out []byte
	for len(payload) > 0 {
		n := min(size, len(payload))
		out = append(out, hello[0], hello[1], hello[2], byte(n>>8), byte(n))
		out = append(out, payload[:n]...)
		payload = payload[n:]
	}
	return out
}

// chunkReader returns at most n bytes per Read, then io.EOF.
type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n, len(r.b))
	copy(p, r.b[:k])
	r.b = r.b[k:]
	return k, nil
}

func TestSniff(t *testing.T) {
	mesh := helloFor(t, "h2", ALPN)
	tests := []struct {
		name string
		in   []byte
		want streamKind
		used int // bytes consumed when the network delivers one at a time; -1 means all of in
	}{
		{"mesh hello", mesh, streamMesh, -1},
		{"mesh hello in 64-byte records", fragment(mesh, 64), streamMesh, -1},
		{"mesh hello in 100-byte records", fragment(mesh, 100), streamMesh, -1},
		{"mesh hello in too many records", fragment(mesh, 16), streamTLS, 32*(5+16) + 5},
		{"application TLS", helloFor(t, "h2", "http/1.1"), streamTLS, -1},
		{"TLS without ALPN", helloFor(t), streamTLS, -1},
		{"HTTP", []byte("GET / HTTP/1.1\r\n\r\n"), streamPlain, 1},
		{"handshake type then not TLS", []byte{0x16, 'x', 'y'}, streamPlain, 2},
		{"record too long", []byte{0x16, 3, 1, 0x40, 0x01, 1}, streamTLS, 5},
		{"not a ClientHello", []byte{0x16, 3, 3, 0, 4, 2, 0, 0, 0}, streamTLS, 9},
		{"truncated hello", mesh[:100], streamTLS, 100},
		{"nothing", nil, streamPlain, 0},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 7, 1 << 20} {
			kind, n, err := sniff(&chunkReader{b: tt.in, n: chunk}, make([]byte, 16<<10))
			want := tt.used
			if want < 0 {
				want = len(tt.in)
			}
			if kind != tt.want || (chunk == 1 && n != want) || n > len(tt.in) {
				t.Errorf("%s (chunks of %d): sniff = %v after %d bytes (err %v), want %v after %d", tt.name, chunk, kind, n, err, tt.want, want)
			}
		}
	}
}

// TestSniffIsBounded: a stream of handshake records that never completes a hello stops the
// sniffer when the buffer is full, and it says "not the mesh's".
func TestSniffIsBounded(t *testing.T) {
	endless := append([]byte{0x16, 3, 1, 0x40, 0, 1, 0xff, 0xff, 0xff}, make([]byte, 1<<20)...) // a 16 MiB "ClientHello"
	buf := make([]byte, 4096)
	kind, n, err := sniff(bytes.NewReader(endless), buf)
	if kind != streamTLS || n != len(buf) || err != nil {
		t.Fatalf("sniff = %v, %d, %v; want tls, %d, nil", kind, n, err, len(buf))
	}
	// One-byte records, delivered one byte at a time: refused after maxHelloRecords.
	tiny := bytes.Repeat([]byte{0x16, 3, 1, 0, 1, 1}, 1<<10)
	kind, n, err = sniff(&chunkReader{b: tiny, n: 1}, buf)
	if kind != streamTLS || n != 6*maxHelloRecords+recordHeaderLen || err != nil {
		t.Fatalf("sniff of one-byte records = %v, %d, %v; want tls after %d bytes", kind, n, err, 6*maxHelloRecords+recordHeaderLen)
	}
}

// FuzzSniff: sniffing never panics, never consumes more than it was given or more than its
// buffer, returns exactly the bytes it read, and classifies the same bytes the same way
// however the network chops them up.
func FuzzSniff(f *testing.F) {
	mesh := helloFor(f, ALPN)
	f.Add(mesh, uint8(0))
	f.Add(fragment(mesh, 3), uint8(5))
	f.Add(helloFor(f, "http/1.1"), uint8(200))
	f.Add([]byte("GET / HTTP/1.1\r\n"), uint8(1))
	f.Add([]byte{0x16, 3, 1, 0xff, 0xff}, uint8(2))
	f.Add([]byte{0x16, 3, 3, 0, 4, 1, 0xff, 0xff, 0xff}, uint8(0))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		buf := make([]byte, 1024)
		whole, wn, _ := sniff(&chunkReader{b: in, n: len(in) + 1}, buf)
		if wn > len(in) || wn > len(buf) || !bytes.Equal(buf[:wn], in[:wn]) {
			t.Fatalf("consumed %d bytes of %d, not a prefix of the input", wn, len(in))
		}
		buf2 := make([]byte, 1024)
		chopped, cn, err := sniff(&chunkReader{b: in, n: int(chunk) + 1}, buf2)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if chopped != whole {
			t.Fatalf("classified %v whole but %v in chunks of %d", whole, chopped, int(chunk)+1)
		}
		if !bytes.Equal(buf2[:cn], in[:cn]) {
			t.Fatal("chunked sniff returned bytes that are not the input")
		}
	})
}
