package authz

import (
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// namespaceWildcard ends a principal that names every identity of one namespace:
// "spiffe://td/ns/N/*".
const namespaceWildcard = "/*"

// matchesAnyPrincipal reports whether the peer's ID equals one of the principals or lies in a
// namespace one of them names. Matching compares whole path segments, so the pattern for
// namespace "a" never matches namespace "ab".
func matchesAnyPrincipal(principals []string, peer Peer) bool {
	id := peer.ID.String()
	for _, p := range principals {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(id, prefix) {
				return true
			}
			continue
		}
		if p == id {
			return true
		}
	}
	return false
}

// validatePrincipal accepts an exact SPIFFE ID or "spiffe://td/ns/<namespace>/*".
func validatePrincipal(p string) error {
	base, wildcard := strings.CutSuffix(p, namespaceWildcard)
	id, err := spiffeid.FromString(base)
	if err != nil {
		return fmt.Errorf("principal %q: %v", p, err)
	}
	if !wildcard {
		return nil
	}
	segs := strings.Split(strings.TrimPrefix(id.Path(), "/"), "/")
	if len(segs) != 2 || segs[0] != "ns" || !isDNSLabel(segs[1]) {
		return fmt.Errorf("principal %q: a pattern must be spiffe://<trust-domain>/ns/<namespace>/*", p)
	}
	return nil
}

// isDNSLabel reports whether s is a DNS-1123 label, the shape of a namespace name.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
