package accesspolicy

import (
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"sigs.k8s.io/yaml"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

// td is the trust domain of the tests.
var td = spiffeid.RequireTrustDomainFromString("cluster.local")

// sa is the SPIFFE ID of a ServiceAccount.
func sa(ns, name string) string { return "spiffe://cluster.local/ns/" + ns + "/sa/" + name }

// nsAll is the principal of every identity in a namespace.
func nsAll(ns string) string { return "spiffe://cluster.local/ns/" + ns + "/*" }

// ap builds an AccessPolicy from the YAML of its spec.
func ap(t testing.TB, ns, name, spec string) v1alpha1.AccessPolicy {
	t.Helper()
	doc := "apiVersion: security.outrider.dev/v1alpha1\nkind: AccessPolicy\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec: " + spec + "\n"
	var p v1alpha1.AccessPolicy
	if err := yaml.UnmarshalStrict([]byte(doc), &p); err != nil {
		t.Fatalf("policy %s/%s: %v", ns, name, err)
	}
	return p
}

func wl(ns, name, serviceAccount string, kv ...string) Workload {
	l := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return Workload{Namespace: ns, Name: name, ServiceAccount: serviceAccount, Labels: l}
}

// testWorld is a small cluster:
//
//	shop   (team=shop):  frontend-1, frontend-2 (sa frontend, app=frontend), backend-1 (sa backend),
//	                     other-1 (sa default, app=other), legacy-1 (sa default, app=legacy)
//	jobs   (team=batch): batch-1 (sa batch)
//	locked (mesh-default-deny=true): db-1 (sa db)
//	other:               frontend-1 (sa frontend, app=frontend)
//	shopx:               spoof-1 (sa frontend, app=frontend)
func testWorld() World {
	return World{
		TrustDomain: td,
		Namespaces: map[string]map[string]string{
			"shop":   {"team": "shop"},
			"jobs":   {"team": "batch"},
			"locked": {v1alpha1.MeshDefaultDenyLabel: "true"},
			"other":  {},
			"shopx":  {},
		},
		Workloads: []Workload{
			wl("shop", "frontend-1", "frontend", "app", "frontend"),
			wl("shop", "frontend-2", "frontend", "app", "frontend"),
			wl("shop", "backend-1", "backend", "app", "backend"),
			wl("shop", "other-1", "default", "app", "other"),
			wl("shop", "legacy-1", "default", "app", "legacy"),
			wl("jobs", "batch-1", "batch", "app", "batch"),
			wl("locked", "db-1", "db", "app", "db"),
			wl("other", "frontend-1", "frontend", "app", "frontend"),
			wl("shopx", "spoof-1", "frontend", "app", "frontend"),
		},
	}
}

func compileT(t testing.TB, w World, policies ...v1alpha1.AccessPolicy) *Result {
	t.Helper()
	res, err := Compile(w, policies)
	if err != nil {
		t.Fatal(err)
	}
	for k, p := range res.Policies {
		if err := p.Validate(); err != nil {
			t.Fatalf("%s: compiled policy does not validate: %v", k, err)
		}
	}
	return res
}

func key(ns, name string) WorkloadKey { return WorkloadKey{Namespace: ns, Name: name} }

func ports(p ...uint16) []uint16 { return p }
