package imageref

import "testing"

func TestPatternMatches(t *testing.T) {
	cases := []struct {
		pattern, image string
		want           bool
	}{
		{"*", "nginx", true},
		{"nginx", "nginx:1.27", true},
		{"nginx", "docker.io/library/nginx@sha256:" + zeros, true},
		{"docker.io/library/nginx", "index.docker.io/library/nginx", true},
		{"nginx", "nginxx", false},
		{"ghcr.io/acme/*", "ghcr.io/acme/api:v1", true},
		{"ghcr.io/acme/*", "ghcr.io/acme/team/api:v1", false},
		{"ghcr.io/acme/**", "ghcr.io/acme/team/api:v1", true},
		{"ghcr.io/acme/**", "ghcr.io/acme", false},
		{"ghcr.io/acme/*", "ghcr.io/acme-evil/api", false},
		{"ghcr.io/acme/**", "ghcr.io.evil.com/acme/api", false},
		{"ghcr.io/acme/api", "ghcr.io/acme/api/extra", false},
		{"127.0.0.1:5000/app", "127.0.0.1:5000/app:v1", true},
		{"127.0.0.1:5000/app", "127.0.0.1:5001/app:v1", false},
		{"GHCR.io/Acme/API", "ghcr.io/acme/api", true},
	}
	for _, c := range cases {
		p, err := ParsePattern(c.pattern)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", c.pattern, err)
		}
		ref, err := Parse(c.image)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.image, err)
		}
		if got := p.Matches(ref); got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.pattern, c.image, got, c.want)
		}
	}
}

func TestParsePatternRefusesWhatCannotMeanAnything(t *testing.T) {
	for _, bad := range []string{"", " ", "ghcr.io/acme/api:v1", "ghcr.io/acme@sha256:" + zeros, "*.io/acme", "ghcr.io/ac*", "ghcr.io/**/api", "ghcr.io//api"} {
		if _, err := ParsePattern(bad); err == nil {
			t.Errorf("ParsePattern(%q) accepted", bad)
		}
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"*", "nginx", "ghcr.io/acme/**", "127.0.0.1:5000/a/*", "a:b/c", "**/x"} {
		f.Add(s, "ghcr.io/acme/api:v1")
	}
	f.Fuzz(func(t *testing.T, pattern, image string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			return
		}
		if ref, err := Parse(image); err == nil {
			_ = p.Matches(ref)
		}
	})
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"
