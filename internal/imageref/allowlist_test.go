package imageref

import "testing"

func TestAllowlist(t *testing.T) {
	allow, err := ParseAllowlist([]string{"registry.example.com", "ghcr.io/acme", "localhost:5000", "nginx", "Quay.IO/Org/", "docker.io/acme"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		image string
		want  bool
	}{
		{"registry.example.com/team/app:1.0", true},
		{"registry.example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{"REGISTRY.EXAMPLE.COM/team/app:1.0", true},
		{"ghcr.io/acme/x:1", true},
		{"ghcr.io/acme/deep/path/x:1", true},
		{"localhost:5000/x", true},
		{"nginx", true},
		{"nginx:1.27", true},
		{"docker.io/library/nginx:1.27", true},
		{"index.docker.io/library/nginx", true},
		{"quay.io/org/x", true},

		// Attacks on invariant 2: lookalike hosts and paths never match.
		{"ghcr.io/acme-evil/x:1", false},
		{"ghcr.io/acmex:1", false},
		{"ghcr.io/acm/x", false},
		{"ghcr.io/x/acme", false},
		{"registry.example.com.evil.io/team/app", false},
		{"evil.io/registry.example.com/app", false},
		{"registry.example.co/app", false},
		{"xregistry.example.com/app", false},
		{"registry.example.com:5000/app", false},
		{"localhost:5001/x", false},
		{"localhost/x", false},
		{"nginx-evil", false},
		{"library/nginx-evil", false},
		{"evil/nginx", false},
		{"docker.io/evil/nginx", false},
		{"ghcr.io/library/nginx", false},
		{"docker.io/acme/app:1", true},
		{"acme/app:1", true},
		{"acme-evil/app:1", false},
	}
	for _, tt := range tests {
		ref, err := Parse(tt.image)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.image, err)
			continue
		}
		if got := allow.Allows(ref); got != tt.want {
			t.Errorf("Allows(%q) = %v, want %v (parsed %s)", tt.image, got, tt.want, ref.Name())
		}
	}
}

func TestParseAllowlistRejects(t *testing.T) {
	for _, bad := range []string{"", "  ", "ghcr.io/*", "ghcr.io/acme@sha256:abc", "ghcr.io//acme"} {
		if _, err := ParseAllowlist([]string{bad}); err == nil {
			t.Errorf("ParseAllowlist(%q) succeeded, want an error", bad)
		}
	}
}

func TestEmptyAllowlistAllowsAll(t *testing.T) {
	a, err := ParseAllowlist(nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := Parse("anything.example/x")
	if !a.Allows(ref) {
		t.Error("an empty allowlist must allow every registry")
	}
}
