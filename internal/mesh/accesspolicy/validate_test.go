package accesspolicy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		spec string
		// want maps each expected error's field path to a fragment of its message.
		want map[string]string
	}{
		{"empty spec", `{}`, nil},
		{"everything at once", `{selector: {matchLabels: {app: backend}}, mtls: Permissive, ingress: [{
			from: [{serviceAccounts: [frontend, jobs/batch.v2], namespaces: [jobs], namespaceSelector: {matchLabels: {team: a}},
			        podSelector: {matchExpressions: [{key: app, operator: In, values: [a]}]}, provenance: [ci.example, release-1]}],
			ports: [{port: 1}, {port: 8000, endPort: 8010}, {port: 65535}],
			http: {methods: [GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE], pathPrefixes: [/, /api, /api/v1/]}}]}`, nil},
		{"bad selector", `{selector: {matchLabels: {"bad key!": x}, matchExpressions: [{key: app, operator: In}]}}`, map[string]string{
			"spec.selector.matchLabels":                "name part must consist of alphanumeric characters",
			"spec.selector.matchExpressions[0].values": "must be specified when `operator` is 'In' or 'NotIn'",
		}},
		{"unknown mTLS mode", `{mtls: strict}`, map[string]string{"spec.mtls": `supported values: "Strict", "Permissive"`}},
		{"empty from entry", `{ingress: [{from: [{}]}]}`, map[string]string{"spec.ingress[0].from[0]": "leave from out of the rule"}},
		{"empty lists in a from entry", `{ingress: [{from: [{serviceAccounts: [], provenance: []}]}]}`, map[string]string{
			"spec.ingress[0].from[0].serviceAccounts": "an empty list matches no peer",
			"spec.ingress[0].from[0].provenance":      "an empty list matches no peer",
		}},
		{"ServiceAccounts that are not names", `{ingress: [{from: [{serviceAccounts: [Frontend, "a/b/c", "../x", "ns/", "/sa", "UP/sa"]}]}]}`, map[string]string{
			"spec.ingress[0].from[0].serviceAccounts[0]": `ServiceAccount name "Frontend"`,
			"spec.ingress[0].from[0].serviceAccounts[1]": `ServiceAccount name "b/c"`,
			"spec.ingress[0].from[0].serviceAccounts[2]": `namespace ".."`,
			"spec.ingress[0].from[0].serviceAccounts[3]": `ServiceAccount name ""`,
			"spec.ingress[0].from[0].serviceAccounts[4]": `namespace ""`,
			"spec.ingress[0].from[0].serviceAccounts[5]": `namespace "UP"`,
		}},
		{"namespaces that are not names", `{ingress: [{from: [{namespaces: [ok, Not_OK, a.b]}]}]}`, map[string]string{
			"spec.ingress[0].from[0].namespaces[1]": "a namespace name",
			"spec.ingress[0].from[0].namespaces[2]": "a namespace name",
		}},
		{"bad peer selectors", `{ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: a, operator: Maybe}]}, podSelector: {matchLabels: {a: "b c"}}}]}]}`, map[string]string{
			"spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].operator": "Maybe",
			"spec.ingress[0].from[0].podSelector.matchLabels":                        "b c",
		}},
		{"provenance names unlike authority names", `{ingress: [{from: [{provenance: [CI, -ci, "ci ", "a_b"]}]}]}`, map[string]string{
			"spec.ingress[0].from[0].provenance[0]": "signing authority",
			"spec.ingress[0].from[0].provenance[1]": "signing authority",
			"spec.ingress[0].from[0].provenance[2]": "signing authority",
			"spec.ingress[0].from[0].provenance[3]": "signing authority",
		}},
		{"ports out of range", `{ingress: [{ports: [{port: 0}, {port: 65536}, {port: 80, endPort: 79}, {port: 80, endPort: 70000}]}]}`, map[string]string{
			"spec.ingress[0].ports[0].port":    "a port is 1–65535",
			"spec.ingress[0].ports[1].port":    "a port is 1–65535",
			"spec.ingress[0].ports[2].endPort": "endPort must be at least port (80)",
			"spec.ingress[0].ports[3].endPort": "a port is 1–65535",
		}},
		{"a range wider than a rule enforces", `{ingress: [{ports: [{port: 1000, endPort: 1127}, {port: 80}]}]}`, map[string]string{
			"spec.ingress[0].ports": "span 129 port numbers, at most 128",
		}},
		{"HTTP without conditions", `{ingress: [{http: {}}]}`, map[string]string{"spec.ingress[0].http": "name methods or pathPrefixes"}},
		{"unknown methods", `{ingress: [{http: {methods: [get, FETCH]}}]}`, map[string]string{
			"spec.ingress[0].http.methods[0]": `Unsupported value: "get"`,
			"spec.ingress[0].http.methods[1]": `supported values: "GET"`,
		}},
		{"path prefixes", `{ingress: [{http: {pathPrefixes: [api, "/api/*", "/*", "/a/../b", "/a//b", "/a?x", "/a%2Fb", "/a/./b"]}}]}`, map[string]string{
			"spec.ingress[0].http.pathPrefixes[0]": `starts with "/"`,
			"spec.ingress[0].http.pathPrefixes[1]": `write "/api" to match it`,
			"spec.ingress[0].http.pathPrefixes[2]": `write "/" to match it`,
			"spec.ingress[0].http.pathPrefixes[3]": "canonical path",
			"spec.ingress[0].http.pathPrefixes[4]": "canonical path",
			"spec.ingress[0].http.pathPrefixes[5]": "without a query",
			"spec.ingress[0].http.pathPrefixes[6]": "decoded path",
			"spec.ingress[0].http.pathPrefixes[7]": "canonical path",
		}},
		{"too many", `{ingress: [{from: [{provenance: [a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q]}], http: {methods: [GET,GET,GET,GET,GET,GET,GET,GET,GET,GET]}}]}`, map[string]string{
			"spec.ingress[0].from[0].provenance": "must have at most 16 items",
			"spec.ingress[0].http.methods":       "must have at most 9 items",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ap(t, "shop", "p", tt.spec)
			errs := Validate(&p)
			got := map[string]string{}
			for _, e := range errs {
				if _, dup := got[e.Field]; dup {
					t.Errorf("two errors for %s", e.Field)
				}
				got[e.Field] = e.Error()
			}
			for path, fragment := range tt.want {
				if !strings.Contains(got[path], fragment) {
					t.Errorf("%s: got %q, want it to contain %q", path, got[path], fragment)
				}
			}
			for path, msg := range got {
				if _, ok := tt.want[path]; !ok {
					t.Errorf("unexpected error %s", msg)
				}
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	if errs := Validate(nil); len(errs) != 1 || errs[0].Type != field.ErrorTypeRequired {
		t.Errorf("Validate(nil) = %v", errs)
	}
}

func TestWarnings(t *testing.T) {
	p := ap(t, "shop", "p", `{ingress: [{from: [{serviceAccounts: [a]}, {podSelector: {}}]}, {from: [{podSelector: {}, serviceAccounts: [b]}]}]}`)
	got := Warnings(&p)
	want := []string{"spec.ingress[0].from[1].podSelector: peers are identified by ServiceAccount, so every pod sharing a ServiceAccount " +
		"with a matching pod is allowed too; give the peers a ServiceAccount of their own, or name it in serviceAccounts"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if Warnings(nil) != nil {
		t.Error("warnings for nil")
	}
}
