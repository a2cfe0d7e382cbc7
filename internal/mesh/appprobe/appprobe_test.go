package appprobe

import (
	"strings"
	"testing"
)

func FuzzParseAppProbes(f *testing.F) {
	f.Add(`{"/app-health/app/readyz":{"httpGet":{"port":8080,"path":"/ready"}}}`)
	f.Add(`{"/app-health/a/livez":{"tcpSocket":{"port":1}}}`)
	f.Add(`{"/x":{}}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		for path, pr := range p {
			if !strings.HasPrefix(path, "/app-health/") || (pr.HTTPGet == nil) == (pr.TCPSocket == nil) {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}
