package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	"github.com/outrider-sec/outrider/internal/policy"
)

// serve posts an AdmissionReview to the handler over HTTP, as the API server does.
func serve(t *testing.T, h http.Handler, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	t.Helper()
	review := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req}
	body, _ := json.Marshal(review)
	rec := httptest.NewRecorder()
	hr := httptest.NewRequest(http.MethodPost, "/validate/workloads", bytes.NewReader(body)).WithContext(context.Background())
	hr.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, hr)
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("bad response %d: %s", rec.Code, rec.Body.String())
	}
	return out.Response
}

func TestHandlerOverHTTP(t *testing.T) {
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	events := record.NewFakeRecorder(10)
	trail := &Trail{Log: slog.New(slog.NewJSONHandler(&logs, nil)), Events: events, Metrics: NewMetrics(reg)}
	h := &webhook.Admission{Handler: &Handler{Webhook: "workloads", Trail: trail, Decider: &WorkloadDecider{
		Engines: engineOf(t, "{podSecurity: {level: baseline}}"), Namespaces: fakeNamespaces{"shop": nil}, FailOn: policy.SeverityHigh}}}

	js, _ := yaml.YAMLToJSON([]byte(strings.Replace(privDeployment, "%s", "1", 1)))
	req := &admissionv1.AdmissionRequest{UID: types.UID("u1"), Operation: admissionv1.Create, Namespace: "shop", Name: "w",
		Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Object: runtime.RawExtension{Raw: js}}
	resp := serve(t, h, req)
	if resp.Allowed || resp.UID != "u1" || resp.Result == nil || resp.Result.Code != http.StatusForbidden || !strings.Contains(resp.Result.Message, "[pss.privileged]") {
		t.Fatalf("privileged Deployment: %+v", resp)
	}
	var line map[string]any
	if err := json.Unmarshal(bytes.Split(logs.Bytes(), []byte("\n"))[0], &line); err != nil {
		t.Fatalf("log line is not JSON: %s", logs.String())
	}
	if line["verdict"] != "refused" || line["kind"] != "Deployment" || line["namespace"] != "shop" || !strings.Contains(logs.String(), "pss.privileged") {
		t.Errorf("log line: %v", line)
	}
	if got := testutil.ToFloat64(trail.Metrics.Decisions.WithLabelValues("workloads", "refused", "Deployment")); got != 1 {
		t.Errorf("refused decisions = %v", got)
	}
	if len(events.Events) != 0 {
		t.Error("an Event for an object that does not exist")
	}

	// Garbage is an error answer, so the failure policy decides; it never panics.
	bad := &admissionv1.AdmissionRequest{UID: "u2", Operation: admissionv1.Create, Namespace: "shop", Object: runtime.RawExtension{Raw: []byte(`{"apiVersion":1}`)}}
	resp = serve(t, h, bad)
	if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusBadRequest {
		t.Fatalf("garbage: %+v", resp)
	}
	if got := testutil.ToFloat64(trail.Metrics.Decisions.WithLabelValues("workloads", "error", "")); got != 1 {
		t.Errorf("error decisions = %v", got)
	}
}

// A warned UPDATE leaves an Event on the object, which exists.
func TestHandlerEventOnWarnedUpdate(t *testing.T) {
	events := record.NewFakeRecorder(10)
	trail := &Trail{Log: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), Events: events, Metrics: NewMetrics(prometheus.NewRegistry())}
	h := &webhook.Admission{Handler: &Handler{Webhook: "workloads", Trail: trail, Decider: &WorkloadDecider{
		Engines: engineOf(t, "{mode: Warn, podSecurity: {level: baseline}}"), Namespaces: fakeNamespaces{"shop": nil}, FailOn: policy.SeverityHigh}}}
	js, _ := yaml.YAMLToJSON([]byte(strings.Replace(privDeployment, "%s", "1", 1)))
	resp := serve(t, h, &admissionv1.AdmissionRequest{UID: "u3", Operation: admissionv1.Update, Namespace: "shop", Name: "w",
		Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Object: runtime.RawExtension{Raw: js}})
	if !resp.Allowed || len(resp.Warnings) == 0 {
		t.Fatalf("%+v", resp)
	}
	select {
	case e := <-events.Events:
		if !strings.Contains(e, "PolicyWarning") {
			t.Errorf("event %q", e)
		}
	default:
		t.Error("no Event")
	}
}

func TestNotReadyIsServiceUnavailable(t *testing.T) {
	trail := &Trail{Log: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}
	h := &webhook.Admission{Handler: &Handler{Webhook: "workloads", Trail: trail, Decider: &WorkloadDecider{
		Engines: func() *policy.Engine { return nil }, Namespaces: fakeNamespaces{}}}}
	resp := serve(t, h, &admissionv1.AdmissionRequest{UID: "u4", Operation: admissionv1.Create, Namespace: "shop", Object: runtime.RawExtension{Raw: []byte(`{}`)}})
	if resp.Allowed || resp.Result.Code != http.StatusServiceUnavailable {
		t.Fatalf("%+v", resp)
	}
}
