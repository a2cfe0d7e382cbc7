package admission

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/workload"
)

// EngineSource returns the engine for the policies in force now. It returns nil until the
// policies have been loaded once.
type EngineSource func() *policy.Engine

// NamespaceLabeler returns the labels of a namespace.
type NamespaceLabeler interface {
	NamespaceLabels(ctx context.Context, name string) (map[string]string, error)
}

// Decision is the verdict on one request.
type Decision struct {
	Allowed bool
	// Message explains a refusal: every blocking finding with its field and fix.
	Message string
	// Warnings are shown to the client for admitted requests (Warn-mode findings, findings
	// below the threshold, violations an UPDATE did not introduce).
	Warnings []string
	// Findings are every finding of the request's object, for the audit trail.
	Findings []policy.Finding
}

// WorkloadDecider judges workload objects, the same way `outrider scan` does.
type WorkloadDecider struct {
	Engines    EngineSource
	Namespaces NamespaceLabeler
	// FailOn is the lowest severity an Enforce finding refuses at (the scan's --fail-on).
	FailOn policy.Severity
}

// ErrNotReady is returned while no policy has been loaded; the webhook answers with an error so
// the webhook configuration's failurePolicy decides.
var ErrNotReady = fmt.Errorf("outrider has not loaded its policies yet")

// Decide judges the object of a CREATE or UPDATE. On UPDATE only violations the old object did
// not already have refuse the request, so metadata changes (labels, finalizers, scale) to a
// workload admitted before a policy existed still go through; the old violations become warnings.
func (d *WorkloadDecider) Decide(ctx context.Context, req *admissionv1.AdmissionRequest) (*Decision, error) {
	engine := d.Engines()
	if engine == nil {
		return nil, ErrNotReady
	}
	obj, err := workload.DecodeObject("admission", req.Object.Raw)
	if err != nil {
		return nil, fmt.Errorf("decoding %s %s/%s: %w", req.Kind.Kind, req.Namespace, req.Name, err)
	}
	if obj.Namespace == "" {
		obj.Namespace = req.Namespace
	}
	if obj.Name == "" {
		obj.Name = req.Name
	}
	labels, err := d.Namespaces.NamespaceLabels(ctx, req.Namespace)
	if err != nil {
		return nil, fmt.Errorf("reading namespace %q: %w", req.Namespace, err)
	}
	ns := policy.Namespace{Name: req.Namespace, Labels: labels}
	findings := engine.Evaluate(obj, ns)

	var existing map[string]bool
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		if old, err := workload.DecodeObject("admission", req.OldObject.Raw); err == nil {
			existing = map[string]bool{}
			for _, f := range engine.Evaluate(old, ns) {
				existing[findingKey(&f)] = true
			}
		}
	}
	dec := &Decision{Allowed: true, Findings: findings}
	var blocking []policy.Finding
	for i := range findings {
		f := &findings[i]
		switch {
		case f.Suppressed != nil:
		case f.Blocking(d.FailOn) && !existing[findingKey(f)]:
			blocking = append(blocking, *f)
		default:
			dec.Warnings = append(dec.Warnings, warning(f, existing[findingKey(f)]))
		}
	}
	if len(blocking) > 0 {
		dec.Allowed = false
		dec.Message = refusal(obj, blocking)
	}
	return dec, nil
}

// findingKey identifies a finding across the old and new versions of an object.
func findingKey(f *policy.Finding) string {
	return f.Policy + "|" + f.Check + "|" + f.Container + "|" + f.Path
}
