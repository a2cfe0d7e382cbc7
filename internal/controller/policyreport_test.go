package controller

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/policy"
)

func finding(check string, mode v1alpha1.PolicyMode, suppressed bool) policy.Finding {
	f := policy.Finding{Check: check, Severity: policy.SeverityHigh, Mode: mode, Policy: "p",
		Container: "app", Path: "spec.containers[0].securityContext", Message: "is bad", Remediation: "fix it"}
	if suppressed {
		f.Suppressed = &policy.Suppression{By: "annotation", Reason: "accepted risk"}
	}
	return f
}

func TestReportResults(t *testing.T) {
	now := time.Unix(1_800_000_000, 42)
	resources := []auditedResource{
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "ns", Name: "bad", UID: "u1", Findings: []policy.Finding{
			finding("pss.privileged", v1alpha1.ModeEnforce, false),
			finding("image.latest", v1alpha1.ModeWarn, false),
			finding("custom.team", v1alpha1.ModeAudit, false),
		}},
		{APIVersion: "v1", Kind: "Pod", Namespace: "ns", Name: "excused", UID: "u2", Findings: []policy.Finding{
			finding("container.resources", v1alpha1.ModeEnforce, true),
		}},
		{APIVersion: "v1", Kind: "Pod", Namespace: "ns", Name: "broken", UID: "u3", DecodeErr: errors.New("bad spec")},
	}
	results := reportResults(resources, now)
	type row struct{ Name, Rule, Result, Category string }
	var got []row
	for _, r := range results {
		m := r.(map[string]any)
		got = append(got, row{m["resources"].([]any)[0].(map[string]any)["name"].(string), m["rule"].(string), m["result"].(string), m["category"].(string)})
	}
	want := []row{
		{"bad", "pss.privileged", "fail", "Pod Security Standards"},
		{"bad", "image.latest", "warn", "Images"},
		{"bad", "custom.team", "fail", "Custom"},
		{"excused", "container.resources", "skip", "Workload security"},
		{"excused", "all-checks", "pass", "Workload security"},
		{"broken", "decode", "error", "Workload security"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}

	first := results[0].(map[string]any)
	if first["message"] != "is bad at spec.containers[0].securityContext" || first["severity"] != "high" ||
		first["source"] != "outrider" || first["scored"] != true || first["policy"] != "p" {
		t.Errorf("first result = %v", first)
	}
	if ts := first["timestamp"].(map[string]any); ts["seconds"] != int64(1_800_000_000) || ts["nanos"] != int64(42) {
		t.Errorf("timestamp = %v", ts)
	}
	for _, r := range results {
		props, _ := r.(map[string]any)["properties"].(map[string]any)
		for k, v := range props {
			if _, ok := v.(string); !ok { // the PolicyReport schema: properties are map[string]string
				t.Errorf("property %s = %#v, not a string", k, v)
			}
		}
	}
	if props := results[3].(map[string]any)["properties"].(map[string]any); props["suppressedBy"] != "annotation" || props["mode"] != "Enforce" {
		t.Errorf("skip properties = %v", props)
	}
	wantSummary := map[string]any{"pass": int64(1), "fail": int64(2), "warn": int64(1), "error": int64(1), "skip": int64(1)}
	if diff := cmp.Diff(wantSummary, summarize(results)); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

// TestReportIsJSON guards against Go types an unstructured object cannot hold (int, []string):
// they panic in DeepCopy, which the client calls.
func TestReportIsJSON(t *testing.T) {
	r := newAuditReport("ns", []auditedResource{{APIVersion: "v1", Kind: "Pod", Name: "p",
		Findings: []policy.Finding{finding("pss.privileged", v1alpha1.ModeEnforce, false)}}}, time.Now())
	_ = runtime.DeepCopyJSON(r.Object)
	empty := newAuditReport("ns", nil, time.Now())
	if results, found, err := unstructured.NestedSlice(empty.Object, "results"); err != nil || !found || len(results) != 0 {
		t.Errorf("empty report results = %v, %v, %v; want an empty list", results, found, err)
	}
}

func TestSameReportIgnoresTimestamps(t *testing.T) {
	resources := []auditedResource{{APIVersion: "v1", Kind: "Pod", Namespace: "ns", Name: "p",
		Findings: []policy.Finding{finding("pss.privileged", v1alpha1.ModeEnforce, false)}}}
	desired := newAuditReport("ns", resources, time.Unix(2_000_000_000, 0))
	// What the API server returns: decoded from JSON, with int64 and float64 where we wrote int64.
	stored := newAuditReport("ns", resources, time.Unix(1_000_000_000, 0))
	js, err := json.Marshal(stored.Object)
	if err != nil {
		t.Fatal(err)
	}
	existing := &unstructured.Unstructured{}
	if err := existing.UnmarshalJSON(js); err != nil {
		t.Fatal(err)
	}
	if same, err := sameReport(existing, desired); err != nil || !same {
		t.Errorf("sameReport = %v, %v; want true: only timestamps differ", same, err)
	}
	resources[0].Findings[0].Mode = v1alpha1.ModeWarn
	if same, _ := sameReport(existing, newAuditReport("ns", resources, time.Now())); same {
		t.Error("sameReport = true for a changed result")
	}
	existing.SetLabels(nil)
	if same, _ := sameReport(existing, desired); same {
		t.Error("sameReport = true without the managed-by label")
	}
}
