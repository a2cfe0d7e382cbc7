package accesspolicy

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// maxPrincipalsPerRule is authz's limit on one rule's principals; longer lists are split
// into several rules with the same name.
const maxPrincipalsPerRule = 256

// compileRules turns a validated policy's ingress rules into authz rules, named
// "namespace/name#index", with warnings about what they admit beyond what they say.
func (ix *index) compileRules(ap *v1alpha1.AccessPolicy) ([]authz.Rule, []string) {
	var rules []authz.Rule
	var warnings []string
	for i := range ap.Spec.Ingress {
		r, w := ix.compileIngress(ap, i)
		rules = append(rules, r...)
		warnings = append(warnings, w...)
	}
	return rules, warnings
}

// group gathers the from entries of one ingress rule that require the same provenance.
type group struct {
	provenance []string
	any        bool
	principals []string
}

func (ix *index) compileIngress(ap *v1alpha1.AccessPolicy, i int) ([]authz.Rule, []string) {
	in := &ap.Spec.Ingress[i]
	base := authz.Rule{
		Name:  fmt.Sprintf("%s/%s#%d", ap.Namespace, ap.Name, i),
		Ports: expandPorts(in.Ports),
		HTTP:  compileHTTP(in.HTTP),
	}
	if len(in.From) == 0 {
		return []authz.Rule{base}, nil
	}
	var warnings []string
	groups := map[string]*group{}
	for j := range in.From {
		e := &in.From[j]
		set, w := ix.resolve(ap.Namespace, e, field.NewPath("spec", "ingress").Index(i).Child("from").Index(j))
		warnings = append(warnings, w...)
		prov := sortedUnique(e.Provenance)
		key := strings.Join(prov, ",") // authority names cannot contain ","
		g := groups[key]
		if g == nil {
			g = &group{provenance: prov}
			groups[key] = g
		}
		g.any = g.any || set.any
		g.principals = append(g.principals, set.principals...)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var rules []authz.Rule
	for _, k := range keys {
		g := groups[k]
		r := base
		r.Provenance = g.provenance
		if g.any { // any peer with the provenance: the principals add nothing
			rules = append(rules, r)
			continue
		}
		principals := simplify(g.principals)
		for len(principals) > 0 { // an empty list would mean any peer: allow no one instead
			n := min(len(principals), maxPrincipalsPerRule)
			r.Principals = principals[:n:n]
			rules = append(rules, r)
			principals = principals[n:]
		}
	}
	return rules, warnings
}

// simplify sorts and deduplicates principals and drops exact IDs that a namespace pattern in
// the list already covers.
func simplify(principals []string) []string {
	out := sortedUnique(principals)
	var patterns []string
	for _, p := range out {
		if strings.HasSuffix(p, "/*") {
			patterns = append(patterns, strings.TrimSuffix(p, "*"))
		}
	}
	if len(patterns) == 0 {
		return out
	}
	return slices.DeleteFunc(out, func(p string) bool {
		if strings.HasSuffix(p, "/*") {
			return false
		}
		for _, prefix := range patterns {
			if strings.HasPrefix(p, prefix) {
				return true
			}
		}
		return false
	})
}

// expandPorts lists every port number of validated entries, sorted; nil means every port.
func expandPorts(ports []v1alpha1.AccessPolicyPort) []uint16 {
	var out []uint16
	for _, p := range ports {
		end := p.Port
		if p.EndPort != nil {
			end = *p.EndPort
		}
		for n := p.Port; n <= end; n++ {
			out = append(out, uint16(n))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func compileHTTP(h *v1alpha1.AccessPolicyHTTP) *authz.HTTPMatch {
	if h == nil {
		return nil
	}
	m := &authz.HTTPMatch{PathPrefixes: sortedUnique(h.PathPrefixes)}
	for _, method := range h.Methods {
		m.Methods = append(m.Methods, string(method))
	}
	m.Methods = sortedUnique(m.Methods)
	return m
}

// sortedUnique returns a sorted copy without duplicates; nil for an empty list.
func sortedUnique(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
