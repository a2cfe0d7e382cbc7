package authz

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

const (
	frontend = "spiffe://cluster.local/ns/shop/sa/frontend"
	batch    = "spiffe://cluster.local/ns/jobs/sa/batch"
)

func peer(id string, provenance ...string) Peer {
	return Peer{ID: spiffeid.RequireFromString(id), Provenance: provenance}
}

func TestAuthorize(t *testing.T) {
	plaintext := Peer{}
	get := &HTTPRequest{Method: "GET", Path: "/api/v1/items?x=1"}
	post := &HTTPRequest{Method: "POST", Path: "/api/v1/items"}
	rules := []Rule{
		{Name: "shop/frontend-to-api", Ports: []uint16{8080}, Principals: []string{frontend}},
		{Name: "shop/jobs-read", Ports: []uint16{9090}, Principals: []string{"spiffe://cluster.local/ns/jobs/*"},
			HTTP: &HTTPMatch{Methods: []string{"GET"}, PathPrefixes: []string{"/api"}}},
		{Name: "shop/signed-only", Ports: []uint16{7070}, Provenance: []string{"ci", "release"}},
		{Name: "shop/health", Ports: []uint16{8081}},
	}
	tests := []struct {
		name   string
		policy *Policy
		peer   Peer
		port   uint16
		req    *HTTPRequest
		want   Decision
	}{
		{"nil policy fails closed", nil, peer(frontend), 80, nil, Decision{Reason: ReasonNoPolicyLoaded}},
		{"unselected workload allows a meshed peer", &Policy{}, peer(frontend), 80, nil, Decision{Allowed: true, Reason: ReasonUnselected}},
		{"unselected workload refuses plaintext", &Policy{}, plaintext, 80, nil, Decision{Reason: ReasonPlaintext}},
		{"permissive unselected workload allows plaintext", &Policy{Permissive: true}, plaintext, 80, nil, Decision{Allowed: true, Reason: ReasonUnselected}},
		{"default deny without rules", &Policy{DefaultDeny: true}, peer(frontend), 80, nil, Decision{Reason: ReasonDefaultDeny}},
		{"exact principal on its port", &Policy{Rules: rules}, peer(frontend), 8080, nil, Decision{Allowed: true, Rule: "shop/frontend-to-api", Reason: ReasonRule}},
		{"exact principal on another port", &Policy{Rules: rules}, peer(frontend), 8443, nil, Decision{Reason: ReasonNoRuleMatched}},
		{"another identity", &Policy{Rules: rules}, peer(batch), 8080, nil, Decision{Reason: ReasonNoRuleMatched}},
		{"namespace pattern needs HTTP at connection level", &Policy{Rules: rules}, peer(batch), 9090, nil, Decision{Reason: ReasonNoRuleMatched, NeedsHTTP: true}},
		{"namespace pattern with a matching request", &Policy{Rules: rules}, peer(batch), 9090, get, Decision{Allowed: true, Rule: "shop/jobs-read", Reason: ReasonRule}},
		{"namespace pattern with the wrong method", &Policy{Rules: rules}, peer(batch), 9090, post, Decision{Reason: ReasonNoRuleMatched}},
		{"namespace pattern does not match a longer namespace", &Policy{Rules: rules}, peer("spiffe://cluster.local/ns/jobsx/sa/batch"), 9090, nil, Decision{Reason: ReasonNoRuleMatched}},
		{"other namespace gets no HTTP chance", &Policy{Rules: rules}, peer(frontend), 9090, nil, Decision{Reason: ReasonNoRuleMatched}},
		{"provenance present", &Policy{Rules: rules}, peer(batch, "release"), 7070, nil, Decision{Allowed: true, Rule: "shop/signed-only", Reason: ReasonRule}},
		{"provenance missing", &Policy{Rules: rules}, peer(batch), 7070, nil, Decision{Reason: ReasonNoRuleMatched}},
		{"provenance from another authority", &Policy{Rules: rules}, peer(batch, "laptop"), 7070, nil, Decision{Reason: ReasonNoRuleMatched}},
		{"open rule allows any meshed peer", &Policy{Rules: rules}, peer(batch), 8081, nil, Decision{Allowed: true, Rule: "shop/health", Reason: ReasonRule}},
		{"open rule refuses plaintext when strict", &Policy{Rules: rules}, plaintext, 8081, nil, Decision{Reason: ReasonPlaintext}},
		{"open rule allows plaintext when permissive", &Policy{Permissive: true, Rules: rules}, plaintext, 8081, nil, Decision{Allowed: true, Rule: "shop/health", Reason: ReasonRule}},
		{"permissive plaintext cannot match a principal", &Policy{Permissive: true, Rules: rules}, plaintext, 8080, nil, Decision{Reason: ReasonNoRuleMatched}},
		{"permissive plaintext cannot match provenance", &Policy{Permissive: true, Rules: rules}, plaintext, 7070, nil, Decision{Reason: ReasonNoRuleMatched}},
		{"L4 rule allows every request", &Policy{Rules: rules}, peer(frontend), 8080, post, Decision{Allowed: true, Rule: "shop/frontend-to-api", Reason: ReasonRule}},
		{"traversal out of the allowed prefix", &Policy{Rules: rules}, peer(batch), 9090, &HTTPRequest{Method: "GET", Path: "/api/../admin"}, Decision{Reason: ReasonNoRuleMatched}},
		{"encoded traversal", &Policy{Rules: rules}, peer(batch), 9090, &HTTPRequest{Method: "GET", Path: "/api/%2e%2e/admin"}, Decision{Reason: ReasonNoRuleMatched}},
		{"prefix is matched by segment", &Policy{Rules: rules}, peer(batch), 9090, &HTTPRequest{Method: "GET", Path: "/apis"}, Decision{Reason: ReasonNoRuleMatched}},
		{"absolute form", &Policy{Rules: rules}, peer(batch), 9090, &HTTPRequest{Method: "GET", Path: "http://backend:9090/api/x"}, Decision{Allowed: true, Rule: "shop/jobs-read", Reason: ReasonRule}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.policy.Authorize(tt.peer, tt.port, tt.req)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Authorize (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNeedsHTTP(t *testing.T) {
	p := &Policy{Rules: []Rule{
		{Name: "a", Ports: []uint16{80}, HTTP: &HTTPMatch{Methods: []string{"GET"}}},
		{Name: "b", Ports: []uint16{81}},
	}}
	for port, want := range map[uint16]bool{80: true, 81: false, 82: false} {
		if got := p.NeedsHTTP(port); got != want {
			t.Errorf("NeedsHTTP(%d) = %v, want %v", port, got, want)
		}
	}
	if (*Policy)(nil).NeedsHTTP(80) {
		t.Error("nil policy needs HTTP")
	}
}

func BenchmarkAuthorize(b *testing.B) {
	p := &Policy{Rules: make([]Rule, 0, 20)}
	for i := range 19 {
		p.Rules = append(p.Rules, Rule{Name: "r", Ports: []uint16{uint16(1000 + i)}, Principals: []string{batch}})
	}
	p.Rules = append(p.Rules, Rule{Name: "last", Ports: []uint16{8080}, Principals: []string{"spiffe://cluster.local/ns/x/*", frontend}})
	pr := peer(frontend)
	b.ReportAllocs()
	for b.Loop() {
		if d := p.Authorize(pr, 8080, nil); !d.Allowed {
			b.Fatal(d)
		}
	}
}
