package accesspolicy

import (
	"slices"
	"strings"

	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// Changed returns the workloads whose policy differs between two results' Policies (added,
// removed or changed), sorted: the proxies the identity service must push to.
func Changed(old, cur map[WorkloadKey]*authz.Policy) []WorkloadKey {
	var out []WorkloadKey
	for k, p := range cur {
		if q, ok := old[k]; !ok || !Equal(p, q) {
			out = append(out, k)
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b WorkloadKey) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Equal reports whether two policies are the same. Compile's output is sorted, so equal
// policies are equal field by field.
func Equal(a, b *authz.Policy) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || a.DefaultDeny != b.DefaultDeny || a.Permissive != b.Permissive {
		return false
	}
	return slices.EqualFunc(a.Rules, b.Rules, ruleEqual)
}

func ruleEqual(a, b authz.Rule) bool {
	if a.Name != b.Name || !slices.Equal(a.Ports, b.Ports) || !slices.Equal(a.Principals, b.Principals) ||
		!slices.Equal(a.Provenance, b.Provenance) || (a.HTTP == nil) != (b.HTTP == nil) {
		return false
	}
	return a.HTTP == nil || slices.Equal(a.HTTP.Methods, b.HTTP.Methods) && slices.Equal(a.HTTP.PathPrefixes, b.HTTP.PathPrefixes)
}
