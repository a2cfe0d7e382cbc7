package accesspolicy

import (
	"encoding/json"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// FuzzValidateCompile feeds arbitrary AccessPolicy documents to Validate and Compile. Neither
// may panic, and whatever Compile produces must be a policy the proxy accepts (authz.Parse of
// its JSON form), so a policy that passed validation can never be refused at the proxy.
func FuzzValidateCompile(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{selector: {matchLabels: {app: backend}}, ingress: [{from: [{serviceAccounts: [frontend]}], ports: [{port: 8080}], http: {methods: [GET], pathPrefixes: [/api]}}]}`,
		`{ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}, namespaceSelector: {}}, {provenance: [ci]}]}]}`,
		`{mtls: Permissive, ingress: [{ports: [{port: 9000, endPort: 9127}]}]}`,
		`{ingress: [{from: [{namespaces: [jobs, shop], serviceAccounts: [jobs/batch]}]}]}`,
		`{ingress: [{from: [{}]}, {ports: [{port: 0}]}, {http: {pathPrefixes: ["/a/../b", "/*"]}}]}`,
		`{selector: {matchExpressions: [{key: app, operator: In}]}, ingress: [{ports: [{port: 80, endPort: 79}]}]}`,
	} {
		doc := []byte("apiVersion: security.outrider.dev/v1alpha1\nkind: AccessPolicy\nmetadata: {name: p, namespace: shop}\nspec: " + seed + "\n")
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(js)
	}
	w := testWorld()
	f.Fuzz(func(t *testing.T, data []byte) {
		var p v1alpha1.AccessPolicy
		if err := json.Unmarshal(data, &p); err != nil {
			return
		}
		errs := Validate(&p)
		_ = Warnings(&p)
		res, err := Compile(w, []v1alpha1.AccessPolicy{p})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Reports) != 1 || res.Reports[0].Ready() != (len(errs) == 0 && len(validateMeta(&p)) == 0) {
			t.Fatalf("report %+v disagrees with Validate %v", res.Reports, errs)
		}
		for k, pol := range res.Policies {
			js, err := json.Marshal(pol)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := authz.Parse(js); err != nil {
				t.Fatalf("%s: the proxy would refuse the compiled policy: %v\n%s", k, err, js)
			}
		}
		_ = res.Reports[0].Status()
	})
}
