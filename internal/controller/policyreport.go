package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/policy"
)

// The PolicyReport the audit writes in each namespace it audits, in the community format
// (wgpolicyk8s.io/v1alpha2) so Policy Reporter, Kyverno's UI and kubectl read it as they read
// any other tool's.
const (
	// AuditReportName names the audit's PolicyReport in each namespace.
	AuditReportName = "outrider-audit"
	reportSource    = "outrider"
	managedByLabel  = "app.kubernetes.io/managed-by"
	managedByValue  = "outrider"
)

// The results a report can hold.
const (
	resultPass  = "pass"
	resultFail  = "fail"
	resultWarn  = "warn"
	resultError = "error"
	resultSkip  = "skip"
)

var (
	policyReportGVK     = schema.GroupVersionKind{Group: "wgpolicyk8s.io", Version: "v1alpha2", Kind: "PolicyReport"}
	policyReportListGVK = policyReportGVK.GroupVersion().WithKind("PolicyReportList")
)

// auditedResource is one workload the audit judged, with what the engine found.
type auditedResource struct {
	APIVersion, Kind, Namespace, Name string
	UID                               types.UID
	Findings                          []policy.Finding
	// DecodeErr is set when the object could not be read as a workload: it gets an error result.
	DecodeErr error
}

// resultOf maps a finding to a report result: a suppressed finding is skipped, a Warn policy
// warns, Enforce and Audit policies fail.
func resultOf(f *policy.Finding) string {
	switch {
	case f.Suppressed != nil:
		return resultSkip
	case f.Mode == v1alpha1.ModeWarn:
		return resultWarn
	}
	return resultFail
}

// categoryOf groups checks the way dashboards filter them.
func categoryOf(check string) string {
	switch {
	case strings.HasPrefix(check, "pss."):
		return "Pod Security Standards"
	case strings.HasPrefix(check, "image."):
		return "Images"
	case strings.HasPrefix(check, "custom."):
		return "Custom"
	}
	return "Workload security"
}

// reportResults lists a namespace's results: one per finding, and one pass per resource with
// no unsuppressed finding, so dashboards count compliant workloads too.
func reportResults(resources []auditedResource, now time.Time) []any {
	ts := map[string]any{"seconds": now.Unix(), "nanos": int64(now.Nanosecond())}
	var results []any
	for i := range resources {
		r := &resources[i]
		ref := []any{map[string]any{
			"apiVersion": r.APIVersion, "kind": r.Kind, "namespace": r.Namespace, "name": r.Name, "uid": string(r.UID),
		}}
		base := func(policyName, rule, result, message string) map[string]any {
			return map[string]any{
				"policy": policyName, "rule": rule, "result": result, "message": message,
				"source": reportSource, "scored": true, "timestamp": ts, "resources": ref,
			}
		}
		if r.DecodeErr != nil {
			res := base(reportSource, "decode", resultError, "the object could not be read as a workload: "+r.DecodeErr.Error())
			res["category"] = "Workload security"
			results = append(results, res)
			continue
		}
		compliant := true
		for j := range r.Findings {
			f := &r.Findings[j]
			result := resultOf(f)
			if result != resultSkip {
				compliant = false
			}
			res := base(f.Policy, f.Check, result, findingMessage(f))
			res["severity"] = string(f.Severity)
			res["category"] = categoryOf(f.Check)
			res["properties"] = findingProperties(f)
			results = append(results, res)
		}
		if compliant {
			res := base(reportSource, "all-checks", resultPass, "passes every check of the policies in force")
			res["category"] = "Workload security"
			results = append(results, res)
		}
	}
	return results
}

func findingMessage(f *policy.Finding) string {
	if f.Path == "" {
		return f.Message
	}
	return f.Message + " at " + f.Path
}

// findingProperties are string-valued, as the PolicyReport schema requires.
func findingProperties(f *policy.Finding) map[string]any {
	props := map[string]any{"path": f.Path, "container": f.Container, "mode": string(f.Mode)}
	if f.Remediation != "" {
		props["remediation"] = f.Remediation
	}
	if f.Suppressed != nil {
		props["suppressedBy"] = f.Suppressed.By
		props["suppressionReason"] = f.Suppressed.Reason
	}
	for k, v := range props {
		if v == "" {
			delete(props, k)
		}
	}
	return props
}

// summarize counts results by outcome.
func summarize(results []any) map[string]any {
	counts := map[string]int64{resultPass: 0, resultFail: 0, resultWarn: 0, resultError: 0, resultSkip: 0}
	for _, r := range results {
		counts[r.(map[string]any)["result"].(string)]++
	}
	summary := make(map[string]any, len(counts))
	for k, v := range counts {
		summary[k] = v
	}
	return summary
}

// newAuditReport builds the desired report for one namespace.
func newAuditReport(namespace string, resources []auditedResource, now time.Time) *unstructured.Unstructured {
	results := reportResults(resources, now)
	u := &unstructured.Unstructured{Object: map[string]any{
		"summary": summarize(results),
		"results": results,
	}}
	if results == nil {
		u.Object["results"] = []any{}
	}
	u.SetGroupVersionKind(policyReportGVK)
	u.SetNamespace(namespace)
	u.SetName(AuditReportName)
	u.SetLabels(map[string]string{managedByLabel: managedByValue})
	return u
}

// writeReport creates or updates the namespace's report, and leaves it alone when only the
// timestamps would change, to spare the API server a write per namespace per audit. It reports
// whether it wrote.
func (a *Auditor) writeReport(ctx context.Context, desired *unstructured.Unstructured) (bool, error) {
	existing := &unstructured.Unstructured{}
	existing.SetGroupVersionKind(policyReportGVK)
	err := a.Reader.Get(ctx, client.ObjectKeyFromObject(desired), existing)
	if apierrors.IsNotFound(err) {
		if err := a.Writer.Create(ctx, desired); err != nil {
			return false, fmt.Errorf("creating report in %s: %w", desired.GetNamespace(), err)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading report in %s: %w", desired.GetNamespace(), err)
	}
	same, err := sameReport(existing, desired)
	if err != nil {
		return false, err
	}
	if same {
		return false, nil
	}
	labels := existing.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[managedByLabel] = managedByValue
	existing.SetLabels(labels)
	existing.Object["summary"] = desired.Object["summary"]
	existing.Object["results"] = desired.Object["results"]
	// The update carries the resourceVersion we read: a conflict means another writer, and the
	// next audit writes again.
	if err := a.Writer.Update(ctx, existing); err != nil {
		return false, fmt.Errorf("updating report in %s: %w", desired.GetNamespace(), err)
	}
	return true, nil
}

// sameReport compares summary, results (without their timestamps) and the managed-by label.
// Both sides go through JSON, so the integer types of a decoded object and a built one compare
// equal.
func sameReport(existing, desired *unstructured.Unstructured) (bool, error) {
	if existing.GetLabels()[managedByLabel] != managedByValue {
		return false, nil
	}
	a, err := reportFingerprint(existing)
	if err != nil {
		return false, err
	}
	b, err := reportFingerprint(desired)
	if err != nil {
		return false, err
	}
	return a == b, nil
}

func reportFingerprint(u *unstructured.Unstructured) (string, error) {
	results, _, _ := unstructured.NestedSlice(u.Object, "results") // a deep copy
	for _, r := range results {
		if m, ok := r.(map[string]any); ok {
			delete(m, "timestamp")
		}
	}
	js, err := json.Marshal(map[string]any{"summary": u.Object["summary"], "results": results})
	if err != nil {
		return "", fmt.Errorf("comparing reports: %w", err)
	}
	return string(js), nil
}

// deleteStaleReports deletes the audit's reports in namespaces it no longer audits (the last
// workload went, or the namespace became excluded). Reports of other tools are not touched.
func (a *Auditor) deleteStaleReports(ctx context.Context, audited map[string][]auditedResource) (int, error) {
	deleted := 0
	cont := ""
	for {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(policyReportListGVK)
		if err := a.Reader.List(ctx, list, client.MatchingLabels{managedByLabel: managedByValue},
			client.Limit(listPageSize), client.Continue(cont)); err != nil {
			return deleted, fmt.Errorf("listing reports: %w", err)
		}
		for i := range list.Items {
			r := &list.Items[i]
			if r.GetName() != AuditReportName || len(audited[r.GetNamespace()]) > 0 {
				continue
			}
			if err := a.Writer.Delete(ctx, r); client.IgnoreNotFound(err) != nil {
				return deleted, fmt.Errorf("deleting the stale report in %s: %w", r.GetNamespace(), err)
			}
			deleted++
		}
		if cont = list.GetContinue(); cont == "" {
			return deleted, nil
		}
	}
}
