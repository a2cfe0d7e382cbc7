package imageref

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Reference
	}{
		{"nginx", Reference{Raw: "nginx", Registry: "docker.io", Repository: "library/nginx"}},
		{"nginx:latest", Reference{Raw: "nginx:latest", Registry: "docker.io", Repository: "library/nginx", Tag: "latest"}},
		{"localhost:5000/app", Reference{Raw: "localhost:5000/app", Registry: "localhost:5000", Repository: "app"}},
		{"localhost:5000/app:v1", Reference{Raw: "localhost:5000/app:v1", Registry: "localhost:5000", Repository: "app", Tag: "v1"}},
		{"ghcr.io/acme/x:1@" + digest, Reference{Raw: "ghcr.io/acme/x:1@" + digest, Registry: "ghcr.io", Repository: "acme/x", Tag: "1", Digest: digest}},
		{"ghcr.io/acme/x@" + digest, Reference{Raw: "ghcr.io/acme/x@" + digest, Registry: "ghcr.io", Repository: "acme/x", Digest: digest}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, bad := range []string{"", "UPPER/case", "a b", "x@sha256:short"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"nginx", "ghcr.io/acme/x:1@" + digest, "localhost:5000/a", "a//b", "::", "@", "x:@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := Parse(s)
		if err != nil {
			return
		}
		if ref.Registry == "" || ref.Repository == "" {
			t.Fatalf("Parse(%q) = %+v with an empty registry or repository", s, ref)
		}
	})
}
