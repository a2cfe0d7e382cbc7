package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// runHTTP1 feeds in to the HTTP/1 forwarder, allowing every request whose target does not
// contain "deny", and returns what reached the application and the targets it saw.
// leaked is set if anything was forwarded after a request was denied.
func runHTTP1(in []byte) (forwarded []byte, targets []string, leaked bool, err error) {
	var out bytes.Buffer
	deniedAt := -1
	br := bufio.NewReaderSize(bytes.NewReader(in), 64) // tiny, so lines straddle refills
	err = forwardHTTP1(br, &out, func(int) {}, func(method, target string) error {
		targets = append(targets, method+" "+target)
		if strings.Contains(target, "deny") {
			deniedAt = out.Len()
			return &refusal{reason: "denied", reply: replyForbidden}
		}
		return nil
	}, func(string, string) {})
	return out.Bytes(), targets, deniedAt >= 0 && out.Len() != deniedAt, err
}

func TestForwardHTTP1(t *testing.T) {
	get := "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	post := "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
	chunked := "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: t\r\n\r\n"
	denied := "GET /deny HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name        string
		in          string
		wantOut     string
		wantTargets []string
		wantErr     string // "" nil, "refused" a *refusal, else a substring
	}{
		{"keep-alive pipeline", get + post + chunked, get + post + chunked, []string{"GET /a", "POST /b", "PUT /c"}, ""},
		{"leading CRLF", "\r\n" + get, "\r\n" + get, []string{"GET /a"}, ""},
		{"denied after allowed", get + denied + get, get, []string{"GET /a", "GET /deny"}, "refused"},
		{"smuggled request in a body is not a request", "POST /b HTTP/1.1\r\nContent-Length: " + itoa(len(denied)) + "\r\n\r\n" + denied + get,
			"POST /b HTTP/1.1\r\nContent-Length: " + itoa(len(denied)) + "\r\n\r\n" + denied + get, []string{"POST /b", "GET /a"}, ""},
		{"CL and TE", "POST /b HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "", nil, "refused"},
		{"repeated CL", "POST /b HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", "", nil, "refused"},
		{"signed CL", "POST /b HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello", "", nil, "refused"},
		{"TE gzip, chunked", "POST /b HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "", nil, "refused"},
		{"TE with space before colon", "POST /b HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", "", nil, "refused"},
		{"obs-fold", "GET /a HTTP/1.1\r\nHost: x\r\n y\r\n\r\n", "", nil, "refused"},
		{"bare LF", "GET /a HTTP/1.1\nHost: x\n\n", "", nil, "refused"},
		{"bare CR in header", "GET /a HTTP/1.1\r\nHost: x\ry\r\n\r\n", "", nil, "refused"},
		{"HTTP/2 in a request line", "GET /a HTTP/2.0\r\n\r\n", "", nil, "refused"},
		{"two spaces", "GET  /a HTTP/1.1\r\n\r\n", "", nil, "refused"},
		{"upgrade", "GET /a HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", "", nil, "refused"},
		{"connect", "CONNECT x:443 HTTP/1.1\r\n\r\n", "", nil, "refused"},
		{"chunk longer than its size", "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na", []string{"PUT /c"}, "refused"},
		{"bad chunk size", "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", []string{"PUT /c"}, "refused"},
		{"truncated body", "POST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello", "POST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello", []string{"POST /b"}, "refused"},
		{"truncated head", "GET /a HTTP/1.1\r\nHo", "", nil, "refused"},
		{"head too large", "GET /a HTTP/1.1\r\nX: " + strings.Repeat("a", maxRequestHead) + "\r\n\r\n", "", nil, "refused"},
		{"empty", "", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, targets, _, err := runHTTP1([]byte(tt.in))
			if string(out) != tt.wantOut {
				t.Errorf("forwarded %q\nwant      %q", out, tt.wantOut)
			}
			if strings.Join(targets, ",") != strings.Join(tt.wantTargets, ",") {
				t.Errorf("authorized %q, want %q", targets, tt.wantTargets)
			}
			var r *refusal
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tt.wantErr == "refused" && !errors.As(err, &r):
				t.Errorf("err = %v, want a refusal", err)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// FuzzForwardHTTP1: whatever the client sends, the forwarder never panics, forwards only a
// prefix of the client's bytes (it never invents or reorders), and authorizes every request
// whose head it forwards.
func FuzzForwardHTTP1(f *testing.F) {
	f.Add([]byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"))
	f.Add([]byte("PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("GET /deny HTTP/1.1\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"))
	f.Add([]byte("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _, leaked, err := runHTTP1(in)
		if !bytes.HasPrefix(in, out) {
			t.Fatalf("forwarded bytes are not a prefix of the input:\nin  %q\nout %q", in, out)
		}
		if leaked {
			t.Fatalf("bytes were forwarded after a denied request: %q", out)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			var r *refusal
			if !errors.As(err, &r) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
		}
	})
}
