package imageref

import (
	"fmt"
	"strings"
)

// Pattern selects images by name for image-trust rules: "*" matches every image;
// otherwise a normalised host/path where a "*" segment matches exactly one path segment and a
// final "**" segment matches one or more. Tags and digests are never part of a pattern, and a
// lookalike host ("ghcr.io.evil.com") or path ("acme-evil") never matches, because matching is
// on whole, normalised segments (DESIGN invariant 2).
type Pattern struct {
	raw      string
	any      bool
	registry string
	segments []string
}

// ParsePattern reads a pattern like "ghcr.io/acme/*", "ghcr.io/acme/**", "nginx" or "*".
// Short names normalise like references: "nginx" is "docker.io/library/nginx".
func ParsePattern(raw string) (Pattern, error) {
	s := strings.TrimSpace(raw)
	if s == "*" || s == "**" {
		return Pattern{raw: raw, any: true}, nil
	}
	if s == "" {
		return Pattern{}, fmt.Errorf("empty image pattern")
	}
	if strings.ContainsAny(s, "@ \t") {
		return Pattern{}, fmt.Errorf("image pattern %q: no digests or spaces; write the repository, like ghcr.io/acme/*", raw)
	}
	host, path, found := strings.Cut(s, "/")
	if !found || (!strings.ContainsAny(host, ".:") && host != "localhost") {
		host, path = DockerHub, s
		if !strings.Contains(path, "/") {
			path = "library/" + path
		}
	}
	if strings.Contains(host, "*") {
		return Pattern{}, fmt.Errorf("image pattern %q: the registry host cannot be a wildcard; use \"*\" for every image", raw)
	}
	if last := path[strings.LastIndexByte(path, '/')+1:]; strings.Contains(last, ":") {
		return Pattern{}, fmt.Errorf("image pattern %q: no tags; a pattern names repositories", raw)
	}
	segs := strings.Split(strings.ToLower(path), "/")
	for i, seg := range segs {
		switch {
		case seg == "":
			return Pattern{}, fmt.Errorf("image pattern %q has an empty path segment", raw)
		case seg == "**" && i != len(segs)-1:
			return Pattern{}, fmt.Errorf("image pattern %q: \"**\" may only be the last segment", raw)
		case seg != "*" && seg != "**" && strings.Contains(seg, "*"):
			return Pattern{}, fmt.Errorf("image pattern %q: \"*\" must be a whole path segment", raw)
		}
	}
	return Pattern{raw: raw, registry: canonicalHost(host), segments: segs}, nil
}

// Matches reports whether ref's repository is selected by the pattern.
func (p Pattern) Matches(ref Reference) bool {
	if p.any {
		return true
	}
	if ref.Registry != p.registry {
		return false
	}
	segs := strings.Split(strings.ToLower(ref.Repository), "/")
	for i, want := range p.segments {
		if want == "**" {
			return len(segs) > i
		}
		if i >= len(segs) || (want != "*" && want != segs[i]) {
			return false
		}
	}
	return len(segs) == len(p.segments)
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.raw }

// Patterns is a list of patterns; it matches when any does.
type Patterns []Pattern

// ParsePatterns parses each entry, naming the index of a bad one.
func ParsePatterns(raw []string) (Patterns, error) {
	out := make(Patterns, 0, len(raw))
	for i, r := range raw {
		p, err := ParsePattern(r)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Matches reports whether any pattern matches ref.
func (ps Patterns) Matches(ref Reference) bool {
	for _, p := range ps {
		if p.Matches(ref) {
			return true
		}
	}
	return false
}
