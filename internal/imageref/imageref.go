// Package imageref parses container image references the way the container runtime does and
// matches them against registry allowlists on normalised, whole path segments.
package imageref

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// DockerHub is the canonical name of Docker Hub; "index.docker.io" and "registry-1.docker.io"
// are spellings of it.
const DockerHub = "docker.io"

// Reference is a parsed image reference, normalised: "nginx" is registry "docker.io",
// repository "library/nginx", no tag given (so the runtime pulls "latest").
type Reference struct {
	// Raw is the reference as written.
	Raw string
	// Registry is the lower-case registry host (with port), "docker.io" for Docker Hub.
	Registry string
	// Repository is the path inside the registry, like "library/nginx".
	Repository string
	// Tag is the tag as written, empty when none was.
	Tag string
	// Digest is "sha256:…" when the reference pins one.
	Digest string
}

// Parse normalises an image reference.
func Parse(raw string) (Reference, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return Reference{}, fmt.Errorf("empty image reference")
	}
	ref, err := name.ParseReference(s)
	if err != nil {
		return Reference{}, fmt.Errorf("invalid image reference %q: %w", raw, err)
	}
	r := Reference{
		Raw:        raw,
		Registry:   canonicalHost(ref.Context().RegistryStr()),
		Repository: ref.Context().RepositoryStr(),
		Tag:        explicitTag(s),
	}
	if d, ok := ref.(name.Digest); ok {
		r.Digest = d.DigestStr()
	}
	return r, nil
}

// Name is the repository's full name: "docker.io/library/nginx".
func (r Reference) Name() string { return r.Registry + "/" + r.Repository }

// Pinned reports whether the reference names a digest.
func (r Reference) Pinned() bool { return r.Digest != "" }

// explicitTag returns the tag written in s, if any: the part after a ':' in the last path
// segment, before any '@'.
func explicitTag(s string) string {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	last := s[strings.LastIndexByte(s, '/')+1:]
	if i := strings.IndexByte(last, ':'); i >= 0 {
		return last[i+1:]
	}
	return ""
}

func canonicalHost(h string) string {
	h = strings.ToLower(h)
	switch h {
	case name.DefaultRegistry, "registry-1.docker.io":
		return DockerHub
	}
	return h
}
