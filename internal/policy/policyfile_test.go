package policy

import (
	"strings"
	"testing"
)

func TestParsePolicies(t *testing.T) {
	data := `
# Two policies in one file, as applied to the cluster.
apiVersion: security.outrider.dev/v1alpha1
kind: ClusterSecurityPolicy
metadata: {name: registries}
spec:
  mode: Enforce
  podSecurity: {level: restricted}
  images:
    allowedRegistries: ["registry.example.com", "ghcr.io/acme"]
    requireDigest: false
---
apiVersion: security.outrider.dev/v1alpha1
kind: SecurityPolicy
metadata: {name: team}
spec: {mode: Warn}
`
	ps, err := ParsePolicies("p.yaml", []byte(data), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Name != "registries" || ps[0].Namespace != "" || ps[1].Namespace != "shop" || ps[1].Mode != "Warn" {
		t.Fatalf("got %v", ps)
	}
}

func TestParsePoliciesErrors(t *testing.T) {
	tests := []struct{ data, want string }{
		{"", "no ClusterSecurityPolicy or SecurityPolicy found"},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "p.yaml:1: a policy file holds ClusterSecurityPolicy and SecurityPolicy objects, not ConfigMap"},
		{"apiVersion: security.outrider.dev/v1\nkind: ClusterSecurityPolicy\nmetadata: {name: c}\n", `apiVersion "security.outrider.dev/v1"`},
		{"apiVersion: security.outrider.dev/v1alpha1\nkind: ClusterSecurityPolicy\nmetadata: {name: c}\nspec: {mdoe: Enforce}\n", `unknown field "spec.mdoe"`},
		{"---\napiVersion: security.outrider.dev/v1alpha1\nkind: ClusterSecurityPolicy\nmetadata: {name: c}\nspec: {mode: Block}\n", `p.yaml:2: policy "c": spec.mode: Unsupported value`},
		{"kind: [\n", "p.yaml:1: invalid YAML"},
		{"apiVersion: security.outrider.dev/v1alpha1\nkind: ClusterSecurityPolicy\nspec: {}\n", "has no metadata.name"},
	}
	for _, tt := range tests {
		_, err := ParsePolicies("p.yaml", []byte(tt.data), "default")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to contain %q", tt.data, err, tt.want)
		}
	}
}
