package admission

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func accessPolicyRequest(t *testing.T, kind, spec string) *admissionv1.AdmissionRequest {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte("apiVersion: security.outrider.dev/v1alpha1\nkind: " + kind + "\nmetadata: {name: p, namespace: shop}\nspec: " + spec + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return &admissionv1.AdmissionRequest{Name: "p", Namespace: "shop", Operation: admissionv1.Create,
		Kind: metav1.GroupVersionKind{Group: "security.outrider.dev", Version: "v1alpha1", Kind: kind}, Object: runtime.RawExtension{Raw: js}}
}

func TestAccessPolicyDecider(t *testing.T) {
	tests := []struct {
		name, spec string
		allowed    bool
		want       []string // fragments of the message, or of the warnings when allowed
	}{
		{"valid", `{selector: {matchLabels: {app: backend}}, ingress: [{from: [{serviceAccounts: [frontend]}], ports: [{port: 8080}], http: {methods: [GET], pathPrefixes: [/api]}}]}`, true, nil},
		{"valid with a podSelector warns", `{ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}]}]}`, true,
			[]string{"spec.ingress[0].from[0].podSelector: peers are identified by ServiceAccount"}},
		{"every error with its path", `{ingress: [{from: [{}], ports: [{port: 0}, {port: 90, endPort: 80}], http: {methods: [get], pathPrefixes: ["/api/*"]}}]}`, false, []string{
			`outrider refused AccessPolicy "p": spec.ingress[0].from[0]: Required value`,
			"spec.ingress[0].ports[0].port: Invalid value: 0",
			"spec.ingress[0].ports[1].endPort: Invalid value: 80: endPort must be at least port (90)",
			`spec.ingress[0].http.methods[0]: Unsupported value: "get"`,
			`spec.ingress[0].http.pathPrefixes[0]: Invalid value: "/api/*"`, `write "/api"`,
		}},
		{"bad ServiceAccount and provenance", `{ingress: [{from: [{serviceAccounts: ["a/b/c"], provenance: [CI]}]}]}`, false, []string{
			`spec.ingress[0].from[0].serviceAccounts[0]: Invalid value: "a/b/c"`, `spec.ingress[0].from[0].provenance[0]: Invalid value: "CI"`,
		}},
		{"unknown field", `{ingres: []}`, false, []string{`outrider refused AccessPolicy "p": unknown field "spec.ingres"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec, err := AccessPolicyDecider{}.Decide(context.Background(), accessPolicyRequest(t, "AccessPolicy", tt.spec))
			if err != nil {
				t.Fatal(err)
			}
			if dec.Allowed != tt.allowed {
				t.Fatalf("allowed = %v (%s)", dec.Allowed, dec.Message)
			}
			text := dec.Message + strings.Join(dec.Warnings, "\n")
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("%q lacks %q", text, w)
				}
			}
			if tt.want == nil && text != "" {
				t.Errorf("unexpected message or warnings %q", text)
			}
		})
	}
}

func TestAccessPolicyDeciderJudgesOnlyAccessPolicies(t *testing.T) {
	if _, err := (AccessPolicyDecider{}).Decide(context.Background(), accessPolicyRequest(t, "SecurityPolicy", "{}")); err == nil {
		t.Error("judged a SecurityPolicy")
	}
}

// Over HTTP, as the API server sends it: the refusal is a 403 with the field paths, and the
// warnings of an admitted policy reach kubectl.
func TestAccessPolicyDeciderOverHTTP(t *testing.T) {
	reg := prometheus.NewRegistry()
	trail := &Trail{Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Events: record.NewFakeRecorder(10), Metrics: NewMetrics(reg)}
	h := &webhook.Admission{Handler: &Handler{Webhook: "accesspolicies", Trail: trail, Decider: AccessPolicyDecider{}}}
	req := accessPolicyRequest(t, "AccessPolicy", `{ingress: [{ports: [{port: 70000}]}]}`)
	req.UID = "u1"
	resp := serve(t, h, req)
	if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusForbidden || !strings.Contains(resp.Result.Message, "spec.ingress[0].ports[0].port: Invalid value: 70000") {
		t.Errorf("invalid policy: %+v", resp)
	}
	req = accessPolicyRequest(t, "AccessPolicy", `{ingress: [{from: [{podSelector: {}}]}]}`)
	req.UID = "u2"
	resp = serve(t, h, req)
	if !resp.Allowed || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "identified by ServiceAccount") {
		t.Errorf("valid policy: %+v", resp)
	}
}
