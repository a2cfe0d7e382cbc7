package imageref

import (
	"fmt"
	"strings"
)

// Allowlist is a parsed list of allowed registries and registry path prefixes.
type Allowlist struct {
	entries []entry
}

type entry struct {
	raw      string
	registry string
	// path is a repository prefix, matched on whole segments; empty allows the whole registry.
	path string
}

// ParseAllowlist reads entries like "registry.example.com", "ghcr.io/acme" or "localhost:5000".
// Entries are normalised like image references: the first segment is a registry host when it
// has a '.' or ':' or is "localhost"; otherwise the entry is a Docker Hub path, and a single
// segment is an official image ("nginx" is "docker.io/library/nginx"; write "docker.io/acme"
// for the whole acme organisation).
func ParseAllowlist(entries []string) (*Allowlist, error) {
	a := &Allowlist{}
	for i, raw := range entries {
		e, err := parseEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("allowedRegistries[%d]: %w", i, err)
		}
		a.entries = append(a.entries, e)
	}
	return a, nil
}

func parseEntry(raw string) (entry, error) {
	s := strings.TrimSpace(raw)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s = strings.TrimSuffix(s, "/")
	if s == "" {
		return entry{}, fmt.Errorf("empty registry entry")
	}
	if strings.ContainsAny(s, "@* \t") {
		return entry{}, fmt.Errorf("registry entry %q: only a host or host/path is allowed, no tags, digests or wildcards", raw)
	}
	host, path, _ := strings.Cut(s, "/")
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		host, path = DockerHub, s
		if !strings.Contains(path, "/") {
			path = "library/" + path // as for images: "nginx" is docker.io/library/nginx
		}
	}
	for _, seg := range strings.Split(path, "/") {
		if path != "" && seg == "" {
			return entry{}, fmt.Errorf("registry entry %q has an empty path segment", raw)
		}
	}
	return entry{raw: raw, registry: canonicalHost(host), path: strings.ToLower(path)}, nil
}

// Empty reports whether the list allows everything (has no entries).
func (a *Allowlist) Empty() bool { return a == nil || len(a.entries) == 0 }

// Allows reports whether ref comes from an allowed registry: its normalised registry host
// equals an entry's host exactly, and its repository starts with the entry's path on a
// segment boundary ("ghcr.io/acme" allows "ghcr.io/acme/x", never "ghcr.io/acme-evil/x").
func (a *Allowlist) Allows(ref Reference) bool {
	if a.Empty() {
		return true
	}
	for _, e := range a.entries {
		if ref.Registry != e.registry {
			continue
		}
		if e.path == "" || ref.Repository == e.path || strings.HasPrefix(ref.Repository, e.path+"/") {
			return true
		}
	}
	return false
}

// String lists the entries as written.
func (a *Allowlist) String() string {
	raws := make([]string, len(a.entries))
	for i, e := range a.entries {
		raws[i] = e.raw
	}
	return strings.Join(raws, ", ")
}
