package accesspolicy

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	in := `apiVersion: security.outrider.dev/v1alpha1
kind: AccessPolicy
metadata: {name: a, namespace: shop}
spec: {mtls: Permissive}
---
apiVersion: v1
kind: Service
metadata: {name: skipped}
---
apiVersion: security.outrider.dev/v1alpha1
kind: AccessPolicy
metadata: {name: b}
---
apiVersion: security.outrider.dev/v1beta9
kind: AccessPolicy
metadata: {name: future}
---
apiVersion: security.outrider.dev/v1alpha1
kind: AccessPolicy
metadata: {name: typo}
spec: {selectr: {}}
---
apiVersion: other.example/v1alpha1
kind: AccessPolicy
metadata: {name: not-ours}
`
	got, err := Decode("in.yaml", []byte(in), "web")
	if len(got) != 2 || got[0].Name != "a" || got[0].Namespace != "shop" || got[0].Spec.MTLS != "Permissive" || got[1].Namespace != "web" {
		t.Errorf("decoded %+v", got)
	}
	for _, want := range []string{"in.yaml:14: AccessPolicy future: apiVersion security.outrider.dev/v1beta9 is not served, write security.outrider.dev/v1alpha1",
		`in.yaml:18: AccessPolicy typo: unknown field "spec.selectr"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
