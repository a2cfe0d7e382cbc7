package accesspolicy

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

func TestChanged(t *testing.T) {
	rule := func(name string, mod func(*authz.Rule)) authz.Rule {
		r := authz.Rule{Name: name, Ports: ports(80), Principals: []string{sa("a", "b")}, Provenance: []string{"ci"},
			HTTP: &authz.HTTPMatch{Methods: []string{"GET"}, PathPrefixes: []string{"/api"}}}
		if mod != nil {
			mod(&r)
		}
		return r
	}
	base := &authz.Policy{DefaultDeny: true, Rules: []authz.Rule{rule("r", nil)}}
	old := map[WorkloadKey]*authz.Policy{
		key("a", "same"): base, key("a", "copy"): base, key("a", "gone"): base,
		key("a", "port"): base, key("a", "http"): base, key("a", "nohttp"): base, key("a", "permissive"): base, key("a", "name"): base,
	}
	cur := map[WorkloadKey]*authz.Policy{
		key("a", "same"):       base,
		key("a", "copy"):       {DefaultDeny: true, Rules: []authz.Rule{rule("r", nil)}},
		key("a", "new"):        base,
		key("a", "port"):       {DefaultDeny: true, Rules: []authz.Rule{rule("r", func(r *authz.Rule) { r.Ports = ports(81) })}},
		key("a", "http"):       {DefaultDeny: true, Rules: []authz.Rule{rule("r", func(r *authz.Rule) { r.HTTP = &authz.HTTPMatch{Methods: []string{"POST"}} })}},
		key("a", "nohttp"):     {DefaultDeny: true, Rules: []authz.Rule{rule("r", func(r *authz.Rule) { r.HTTP = nil })}},
		key("a", "permissive"): {DefaultDeny: true, Permissive: true, Rules: []authz.Rule{rule("r", nil)}},
		key("a", "name"):       {DefaultDeny: true, Rules: []authz.Rule{rule("s", nil)}},
	}
	want := []WorkloadKey{key("a", "gone"), key("a", "http"), key("a", "name"), key("a", "new"), key("a", "nohttp"), key("a", "permissive"), key("a", "port")}
	if diff := cmp.Diff(want, Changed(old, cur)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if Equal(nil, base) || !Equal(nil, nil) {
		t.Error("Equal with nil")
	}
}
