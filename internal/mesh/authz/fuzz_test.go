package authz

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// FuzzParse feeds arbitrary bytes as a pushed policy. Parse must never panic; whatever it
// accepts must validate, survive a JSON round trip unchanged, and be safe to evaluate.
func FuzzParse(f *testing.F) {
	f.Add([]byte(examplePolicy))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"permissive":true,"rules":[{"name":"x","ports":[1,65535]}]}`))
	f.Add([]byte(`{"rules":[{"name":"x","principals":["spiffe://td/ns/a/*"],"http":{"pathPrefixes":["/"]}}]}`))
	f.Add([]byte(`{"rules":[{"name":"x","ports":[-1]}]}`))
	f.Add([]byte(`{"rules":null}`))
	f.Add([]byte(`{"rules":[{"name":"x","http":null}]}`))
	f.Add([]byte("\xff{"))
	peers := []Peer{{}, {ID: spiffeid.RequireFromString("spiffe://td/ns/a/sa/b"), Provenance: []string{"ci"}}}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Parse(in)
		if err != nil {
			if p != nil {
				t.Fatal("policy returned with an error")
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted policy does not validate: %v", err)
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		out2, _ := json.Marshal(again)
		if string(out) != string(out2) {
			t.Fatalf("round trip changed the policy:\n%s\n%s", out, out2)
		}
		for _, pr := range peers {
			for _, port := range []uint16{1, 80, 65535} {
				p.Authorize(pr, port, nil)
				p.Authorize(pr, port, &HTTPRequest{Method: "GET", Path: "/a/b"})
			}
		}
	})
}

// FuzzCanonicalPath checks that no accepted path can climb out of a prefix: the result is
// absolute and has no dot or empty segments, so segment-wise prefix matching is sound.
func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/a/../b", "/%2e%2e/", "http://h/a", "/a?b#c", "/a//b", "/%zz", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, ok := CanonicalPath(in)
		if !ok {
			return
		}
		if !strings.HasPrefix(p, "/") {
			t.Fatalf("CanonicalPath(%q) = %q: not absolute", in, p)
		}
		segs := strings.Split(p[1:], "/")
		for i, s := range segs {
			if s == "." || s == ".." || (s == "" && i != len(segs)-1) || strings.ContainsAny(s, "\\\x00") {
				t.Fatalf("CanonicalPath(%q) = %q: segment %q", in, p, s)
			}
		}
	})
}
