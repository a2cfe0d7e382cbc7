package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Client builds what an HTTP/2 client sends: the preface, SETTINGS, then for each request a
// header block (split into CONTINUATIONs when split is set) and a DATA frame.
func h2Client(t testing.TB, split bool, requests ...[2]string) []byte {
	var out, hb bytes.Buffer
	out.WriteString(http2Preface)
	fr := http2.NewFramer(&out, nil)
	enc := hpack.NewEncoder(&hb)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}))
	for i, r := range requests {
		hb.Reset()
		for _, f := range []hpack.HeaderField{{Name: ":method", Value: r[0]}, {Name: ":scheme", Value: "http"}, {Name: ":authority", Value: "backend"}, {Name: ":path", Value: r[1]}, {Name: "x-request", Value: strings.Repeat("v", 50)}} {
			must(enc.WriteField(f))
		}
		id := uint32(2*i + 1)
		block := hb.Bytes()
		if split {
			must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block[:3], PadLength: 4, Priority: http2.PriorityParam{Weight: 9}}))
			must(fr.WriteContinuation(id, true, block[3:]))
		} else {
			must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true}))
		}
		must(fr.WriteData(id, true, []byte("body")))
	}
	return out.Bytes()
}

func runHTTP2(in []byte) (forwarded []byte, seen []string, leaked bool, err error) {
	var out bytes.Buffer
	deniedAt := -1
	br := bufio.NewReaderSize(bytes.NewReader(in), 64)
	err = forwardHTTP2(br, &out, func(int) {}, func(method, path string) error {
		seen = append(seen, method+" "+path)
		if strings.Contains(path, "deny") {
			deniedAt = out.Len()
			return &refusal{reason: "denied"}
		}
		return nil
	})
	return out.Bytes(), seen, deniedAt >= 0 && out.Len() != deniedAt, err
}

func TestForwardHTTP2(t *testing.T) {
	for _, split := range []bool{false, true} {
		in := h2Client(t, split, [2]string{"GET", "/public/a"}, [2]string{"POST", "/public/b"}, [2]string{"GET", "/deny"}, [2]string{"GET", "/public/c"})
		out, seen, leaked, err := runHTTP2(in)
		var r *refusal
		if !errors.As(err, &r) || leaked {
			t.Fatalf("split=%v: err = %v, leaked = %v; want a refusal and nothing after it", split, err, leaked)
		}
		if got := strings.Join(seen, ","); got != "GET /public/a,POST /public/b,GET /deny" {
			t.Errorf("split=%v: authorized %s", split, got)
		}
		if !bytes.HasPrefix(in, out) {
			t.Errorf("split=%v: forwarded bytes are not a prefix of the client's", split)
		}
		// Everything up to the denied request's header block went through: two requests.
		allowed := h2Client(t, split, [2]string{"GET", "/public/a"}, [2]string{"POST", "/public/b"})
		if !bytes.Equal(out, allowed) {
			t.Errorf("split=%v: forwarded %d bytes, want the %d of the two allowed requests", split, len(out), len(allowed))
		}
	}
	// A clean end after allowed requests.
	in := h2Client(t, false, [2]string{"GET", "/public/a"})
	out, _, _, err := runHTTP2(in)
	if err != nil || !bytes.Equal(out, in) {
		t.Errorf("clean stream: err %v, forwarded %d of %d bytes", err, len(out), len(in))
	}
	// Malformed: a DATA frame in the middle of a header block.
	bad := h2Client(t, true, [2]string{"GET", "/public/a"})
	headers := len(http2Preface) + h2FrameHeaderLen + 6 // after the preface and a one-setting SETTINGS
	cont := headers + h2FrameHeaderLen + (int(bad[headers+1])<<8 | int(bad[headers+2]))
	if bad[cont+3] != h2TypeContinuation {
		t.Fatalf("test frames laid out unexpectedly: type %#x at %d", bad[cont+3], cont)
	}
	bad[cont+3] = 0x0 // the CONTINUATION becomes DATA
	if _, _, _, err := runHTTP2(bad); !errors.Is(err, errHTTP2) {
		t.Errorf("interrupted header block: err = %v, want errHTTP2", err)
	}
}

// FuzzForwardHTTP2: no panic, only a prefix of the client's bytes is forwarded, and nothing
// after a refused request.
func FuzzForwardHTTP2(f *testing.F) {
	f.Add(h2Client(f, false, [2]string{"GET", "/a"}, [2]string{"GET", "/deny"}))
	f.Add(h2Client(f, true, [2]string{"POST", "/b"}))
	f.Add([]byte(http2Preface + "\x00\x00\x00\x04\x00\x00\x00\x00\x00"))
	f.Add([]byte(http2Preface + "\x00\x00\x05\x01\x0c\x00\x00\x00\x01\xff\x82\x84\x86\x41"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _, leaked, _ := runHTTP2(in)
		if !bytes.HasPrefix(in, out) {
			t.Fatal("forwarded bytes are not a prefix of the input")
		}
		if leaked {
			t.Fatal("bytes forwarded after a refused request")
		}
	})
}
