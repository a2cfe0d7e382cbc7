package accesspolicy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// Each test is an attempt by the author of an AccessPolicy, or of a pod, to reach or expose
// more than the policies say.

func peer(id string, provenance ...string) authz.Peer {
	return authz.Peer{ID: spiffeid.RequireFromString(id), Provenance: provenance}
}

func allowed(res *Result, k WorkloadKey, p authz.Peer, port uint16) bool {
	return res.Policies[k].Authorize(p, port, nil).Allowed
}

// A policy in namespace "other" that selects everything and allows everyone cannot change
// what workloads in "shop" or "locked" accept.
func TestAttackPolicyInOneNamespaceSelectsAnother(t *testing.T) {
	open := ap(t, "other", "grab", `{selector: {}, ingress: [{}]}`)
	deny := ap(t, "other", "lock", `{selector: {matchLabels: {app: backend}}}`)
	before := compileT(t, testWorld())
	after := compileT(t, testWorld(), open, deny)
	changed := Changed(before.Policies, after.Policies)
	if diff := cmp.Diff([]WorkloadKey{key("other", "frontend-1")}, changed); diff != "" {
		t.Errorf("workloads changed by policies in namespace other (-want +got):\n%s", diff)
	}
	if allowed(after, key("locked", "db-1"), peer(sa("other", "frontend")), 5432) {
		t.Error("a policy in another namespace opened a default-deny namespace")
	}
}

// A pod that copies the labels of an allowed peer gets nothing unless it also runs as an
// allowed ServiceAccount in an allowed namespace: identity, not labels, is what the proxy sees.
func TestAttackCopiedLabelsInAnotherNamespace(t *testing.T) {
	res := compileT(t, testWorld(), ap(t, "shop", "be", `{selector: {matchLabels: {app: backend}}, ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}]}]}`))
	be := key("shop", "backend-1")
	if !allowed(res, be, peer(sa("shop", "frontend")), 8080) {
		t.Fatal("the real frontend is refused")
	}
	for _, id := range []string{sa("other", "frontend"), sa("shopx", "frontend"), sa("shop", "default")} {
		if allowed(res, be, peer(id), 8080) {
			t.Errorf("%s, with the frontend's labels elsewhere, is allowed", id)
		}
	}
}

// A podSelector widens only to the other pods of the ServiceAccounts it resolves to, and the
// report says so by name.
func TestAttackSharedServiceAccountWidensPodSelector(t *testing.T) {
	res := compileT(t, testWorld(), ap(t, "shop", "be", `{selector: {matchLabels: {app: backend}}, ingress: [{from: [{podSelector: {matchLabels: {app: other}}}]}]}`))
	be := key("shop", "backend-1")
	// legacy-1 shares ServiceAccount default with other-1: the proxy cannot tell them apart.
	if !allowed(res, be, peer(sa("shop", "default")), 80) {
		t.Fatal("the selected pod's identity is refused")
	}
	if allowed(res, be, peer(sa("shop", "frontend")), 80) {
		t.Error("an identity no selected pod runs as is allowed")
	}
	if w := res.Reports[0].Warnings; len(w) != 1 || !strings.Contains(w[0], "such as shop/legacy-1") {
		t.Errorf("warnings %q, want one naming shop/legacy-1", w)
	}
}

// A peer that matches no one must allow no one: an empty principal list means "any peer" in
// authz, so it must never be emitted for a from entry that named peers.
func TestAttackSelectorMatchingNothingAllowsEveryone(t *testing.T) {
	for _, spec := range []string{
		`{ingress: [{from: [{podSelector: {matchLabels: {app: ghost}}}]}]}`,
		`{ingress: [{from: [{podSelector: {}, namespaces: [ghost-town]}]}]}`,
		`{ingress: [{from: [{namespaceSelector: {matchLabels: {team: ghost}}}]}]}`,
		`{ingress: [{from: [{serviceAccounts: [shop/frontend], namespaces: [jobs]}]}]}`,
		`{ingress: [{from: [{podSelector: {matchLabels: {app: ghost}}, provenance: [ci]}]}]}`,
	} {
		res := compileT(t, testWorld(), ap(t, "shop", "p", spec))
		pol := res.Policies[key("shop", "backend-1")]
		if diff := cmp.Diff(&authz.Policy{DefaultDeny: true}, pol); diff != "" {
			t.Errorf("%s (-want +got):\n%s", spec, diff)
		}
	}
}

// A namespace pattern for "shop" must not admit "shopx", a namespace anyone could create.
func TestAttackNamespacePrefixLookalike(t *testing.T) {
	res := compileT(t, testWorld(), ap(t, "locked", "p", `{ingress: [{from: [{namespaces: [shop]}]}]}`))
	if !allowed(res, key("locked", "db-1"), peer(sa("shop", "frontend")), 5432) {
		t.Fatal("shop refused")
	}
	if allowed(res, key("locked", "db-1"), peer(sa("shopx", "frontend")), 5432) {
		t.Error("shopx admitted by a policy for shop")
	}
}

// An invalid policy never fails open: the workloads it alone selects deny everything instead
// of becoming unselected (allow all), whether its rules or its selector are broken.
func TestAttackInvalidPolicyFailsOpen(t *testing.T) {
	for _, spec := range []string{
		`{selector: {matchLabels: {app: backend}}, ingress: [{from: [{serviceAccounts: ["../../ns/kube-system/sa/admin"]}]}]}`,
		`{selector: {matchExpressions: [{key: app, operator: Bogus}]}, ingress: [{}]}`,
		`{selector: {matchLabels: {app: backend}}, mtls: Plaintext, ingress: [{}]}`,
	} {
		res := compileT(t, testWorld(), ap(t, "shop", "p", spec))
		if res.Reports[0].Ready() {
			t.Errorf("%s: accepted", spec)
		}
		be := key("shop", "backend-1")
		if allowed(res, be, peer(sa("shop", "frontend")), 80) || allowed(res, be, authz.Peer{}, 80) {
			t.Errorf("%s: the workload accepts traffic: %+v", spec, res.Policies[be])
		}
	}
}

// Provenance is a requirement on top of identity, never an alternative to it.
func TestAttackProvenanceWithoutIdentity(t *testing.T) {
	res := compileT(t, testWorld(), ap(t, "shop", "pay", `{selector: {matchLabels: {app: backend}}, ingress: [{from: [{serviceAccounts: [frontend], provenance: [ci]}]}]}`))
	be := key("shop", "backend-1")
	if !allowed(res, be, peer(sa("shop", "frontend"), "ci"), 443) {
		t.Fatal("the signed frontend is refused")
	}
	for name, p := range map[string]authz.Peer{
		"unsigned frontend":              peer(sa("shop", "frontend")),
		"signed by another authority":    peer(sa("shop", "frontend"), "laptop"),
		"signed, another ServiceAccount": peer(sa("shop", "default"), "ci"),
		"plain text":                     {},
	} {
		if allowed(res, be, p, 443) {
			t.Errorf("%s allowed", name)
		}
	}
}

// Permissive lets plain text in only through rules that name no peer: it can never stand in
// for an identity a rule requires.
func TestAttackPlaintextUnderPermissive(t *testing.T) {
	res := compileT(t, testWorld(), ap(t, "shop", "mig", `{mtls: Permissive, selector: {matchLabels: {app: backend}}, ingress: [
		{from: [{serviceAccounts: [frontend]}], ports: [{port: 8080}]}, {ports: [{port: 8081}]}]}`))
	be := key("shop", "backend-1")
	if allowed(res, be, authz.Peer{}, 8080) {
		t.Error("plain text matched a rule that names a ServiceAccount")
	}
	if !allowed(res, be, authz.Peer{}, 8081) {
		t.Error("plain text refused on a port open to every peer in Permissive mode")
	}
	strict := compileT(t, testWorld(), ap(t, "shop", "mig", `{selector: {matchLabels: {app: backend}}, ingress: [{ports: [{port: 8081}]}]}`))
	if allowed(strict, be, authz.Peer{}, 8081) {
		t.Error("plain text allowed in Strict mode")
	}
}

// A pod whose ServiceAccount or namespace is not a valid name has no identity and cannot be
// a peer, whatever its labels.
func TestAttackPodWithMalformedServiceAccount(t *testing.T) {
	w := testWorld()
	w.Workloads = append(w.Workloads, wl("shop", "evil", "../../jobs/sa/batch", "app", "frontend"))
	res := compileT(t, w, ap(t, "shop", "p", `{selector: {matchLabels: {app: backend}}, ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}]}]}`))
	got := res.Policies[key("shop", "backend-1")].Rules[0].Principals
	if diff := cmp.Diff([]string{sa("shop", "frontend")}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
