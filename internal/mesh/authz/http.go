package authz

import (
	"net/url"
	"path"
	"strings"
)

// HTTPMatch restricts a rule to some HTTP requests. Every non-empty list must match.
type HTTPMatch struct {
	// Methods are request methods, upper case as sent ("GET"). Empty means any.
	Methods []string `json:"methods,omitempty"`
	// PathPrefixes match the request path by whole segments: "/api" matches "/api" and
	// "/api/v1" but not "/apis"; a prefix ending in "/" matches anything under it. Empty
	// means any path.
	PathPrefixes []string `json:"pathPrefixes,omitempty"`
}

// HTTPRequest is what the proxy read from one HTTP request: the method and the request target
// as sent (origin form "/a?b", or absolute form "http://host/a"; HTTP/2's :path).
type HTTPRequest struct {
	Method string
	Path   string
}

func (m *HTTPMatch) matches(req *HTTPRequest, t *requestTarget) bool {
	if len(m.Methods) > 0 && !contains(m.Methods, req.Method) {
		return false
	}
	if len(m.PathPrefixes) == 0 {
		return true
	}
	p, ok := t.canonical(req.Path)
	if !ok {
		return false
	}
	for _, prefix := range m.PathPrefixes {
		if pathHasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// requestTarget caches the canonical path of one request across the rules that look at it.
type requestTarget struct {
	done bool
	path string
	ok   bool
}

func (t *requestTarget) canonical(target string) (string, bool) {
	if !t.done {
		t.path, t.ok = CanonicalPath(target)
		t.done = true
	}
	return t.path, t.ok
}

// CanonicalPath returns the path of an HTTP request target, percent-decoded, and whether it
// may be matched against path prefixes at all. A prefix allowlist is only as good as the
// agreement between the proxy and the application on what the path is, so every form that
// applications resolve differently is refused rather than guessed at: dot segments, empty
// segments ("//"), encoded slashes or backslashes, backslashes, NUL, invalid escapes, and any
// target that is not a path (the "*" of OPTIONS, the authority form of CONNECT).
func CanonicalPath(target string) (string, bool) {
	if rest, ok := cutScheme(target); ok {
		// Absolute form: skip the authority.
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return "", false
		}
		target = rest[i:]
	}
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	if !strings.HasPrefix(target, "/") {
		return "", false
	}
	lower := strings.ToLower(target)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(lower, "%00") {
		return "", false
	}
	p, err := url.PathUnescape(target)
	if err != nil || strings.ContainsAny(p, "\\\x00") {
		return "", false
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean != p {
		return "", false
	}
	return p, true
}

func cutScheme(target string) (string, bool) {
	for _, s := range []string{"http://", "https://"} {
		if len(target) >= len(s) && strings.EqualFold(target[:len(s)], s) {
			return target[len(s):], true
		}
	}
	return "", false
}

// pathHasPrefix matches by whole segments.
func pathHasPrefix(p, prefix string) bool {
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	return len(p) == len(prefix) || strings.HasSuffix(prefix, "/") || p[len(prefix)] == '/'
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
