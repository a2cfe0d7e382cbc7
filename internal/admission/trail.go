package admission

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
)

// Verdicts as they appear in logs and metrics.
const (
	VerdictAllowed = "allowed"
	VerdictWarned  = "warned"
	VerdictRefused = "refused"
	VerdictError   = "error"
)

// Trail records every decision: one JSON log line, metrics, and an Event on the object when it
// exists (UPDATE, CONNECT) or will (a warned CREATE).
type Trail struct {
	Log     *slog.Logger
	Events  record.EventRecorder // nil: no Events
	Metrics *Metrics
}

// Metrics are the admission controller's Prometheus series.
type Metrics struct {
	Decisions *prometheus.CounterVec
	Findings  *prometheus.CounterVec
	Latency   *prometheus.HistogramVec
}

// NewMetrics creates the series and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outrider_admission_decisions_total", Help: "Admission decisions by webhook, verdict and kind."},
			[]string{"webhook", "verdict", "kind"}),
		Findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outrider_admission_findings_total", Help: "Findings in admission requests by check and verdict of the request."},
			[]string{"check", "verdict"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "outrider_admission_duration_seconds", Help: "Time to decide an admission request, in the controller.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}},
			[]string{"webhook"}),
	}
	reg.MustRegister(m.Decisions, m.Findings, m.Latency)
	return m
}

func verdictOf(dec *Decision, err error) string {
	switch {
	case err != nil:
		return VerdictError
	case !dec.Allowed:
		return VerdictRefused
	case len(dec.Warnings) > 0:
		return VerdictWarned
	}
	return VerdictAllowed
}

// Record writes the audit trail of one decision.
func (t *Trail) Record(ctx context.Context, webhook string, req *admissionv1.AdmissionRequest, dec *Decision, err error, latency time.Duration) {
	verdict := verdictOf(dec, err)
	var checks []string
	if dec != nil {
		seen := map[string]bool{}
		for _, f := range dec.Findings {
			if f.Suppressed == nil && !seen[f.Check] {
				seen[f.Check] = true
				checks = append(checks, f.Check)
			}
		}
		sort.Strings(checks)
	}
	if t.Metrics != nil {
		t.Metrics.Decisions.WithLabelValues(webhook, verdict, req.Kind.Kind).Inc()
		t.Metrics.Latency.WithLabelValues(webhook).Observe(latency.Seconds())
		for _, c := range checks {
			t.Metrics.Findings.WithLabelValues(c, verdict).Inc()
		}
	}
	attrs := []slog.Attr{
		slog.String("uid", string(req.UID)), slog.String("webhook", webhook), slog.String("verdict", verdict),
		slog.String("operation", string(req.Operation)), slog.String("kind", req.Kind.Kind),
		slog.String("subresource", req.SubResource), slog.String("namespace", req.Namespace), slog.String("name", req.Name),
		slog.String("user", req.UserInfo.Username), slog.Any("groups", req.UserInfo.Groups), slog.Any("checks", checks),
		slog.Float64("latency_ms", float64(latency.Microseconds())/1000), slog.Bool("dry_run", req.DryRun != nil && *req.DryRun),
	}
	if err != nil {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	t.Log.LogAttrs(ctx, slog.LevelInfo, "admission decision", attrs...)
	t.event(req, dec, verdict)
}

// event records a Kubernetes Event on the object, where one exists or will.
func (t *Trail) event(req *admissionv1.AdmissionRequest, dec *Decision, verdict string) {
	if t.Events == nil || (req.DryRun != nil && *req.DryRun) || dec == nil {
		return
	}
	exists := req.Operation == admissionv1.Update || req.Operation == admissionv1.Connect
	switch {
	case verdict == VerdictRefused && exists:
		t.Events.Event(involved(req), corev1.EventTypeWarning, "PolicyViolation", truncate(dec.Message))
	case verdict == VerdictWarned && req.Operation != admissionv1.Connect:
		msg := "admitted with warnings: " + dec.Warnings[0]
		if len(dec.Warnings) > 1 {
			msg += " (and more)"
		}
		t.Events.Event(involved(req), corev1.EventTypeWarning, "PolicyWarning", truncate(msg))
	}
}

// involved names the request's object for an Event.
func involved(req *admissionv1.AdmissionRequest) runtime.Object {
	kind := req.Kind.Kind
	apiVersion := req.Kind.Version
	if req.Kind.Group != "" {
		apiVersion = req.Kind.Group + "/" + req.Kind.Version
	}
	if req.Operation == admissionv1.Connect {
		kind, apiVersion = "Pod", "v1"
	}
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{Kind: kind, APIVersion: apiVersion},
		ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: req.Namespace},
	}
}

// truncate keeps an Event message within the API's 1 KiB note limit.
func truncate(s string) string {
	const max = 1000
	if len(s) <= max {
		return s
	}
	return s[:max-1] + "…"
}
