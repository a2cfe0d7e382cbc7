package admission

import (
	"context"
	"fmt"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/mesh/inject"
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
	// Patches mutate the object (mutating webhooks only).
	Patches []jsonpatch.Operation
}

// ImageFacts gathers what the registry holds about images (digests, signatures,
// attestations) before a workload is judged, authenticating with pull.
type ImageFacts interface {
	ImageData(ctx context.Context, refs []imageref.Reference, pull PullContext) policy.ImageData
}

// WorkloadDecider judges workload objects, the same way `outrider scan` does.
type WorkloadDecider struct {
	Engines    EngineSource
	Namespaces NamespaceLabeler
	// Images gathers registry data for image-trust rules; nil judges without it.
	Images ImageFacts
	// FailOn is the lowest severity an Enforce finding refuses at (the scan's --fail-on).
	FailOn policy.Severity
	// Mesh recognises the injector's containers, which the checks leave out; nil: no mesh.
	Mesh *inject.Config
	// OptOut says who may opt a pod out of the mesh in a meshed namespace.
	OptOut OptOut
}

// ErrNotReady is returned while no policy has been loaded; the webhook answers with an error so
// the webhook configuration's failurePolicy decides.
var ErrNotReady = fmt.Errorf("outrider has not loaded its policies yet")

// Decide judges the object of a CREATE or UPDATE. On UPDATE only violations the old object did
// not already have refuse the request, so metadata changes (labels, finalizers, scale) to a
// workload admitted before a policy existed still go through; the old violations become warnings.
func (d *WorkloadDecider) Decide(ctx context.Context, req *admissionv1.AdmissionRequest) (*Decision, error) {
	engine, obj, err := requestObject(d.Engines, req)
	if err != nil {
		return nil, err
	}
	labels, err := d.Namespaces.NamespaceLabels(ctx, req.Namespace)
	if err != nil {
		return nil, fmt.Errorf("reading namespace %q: %w", req.Namespace, err)
	}
	ns := policy.Namespace{Name: req.Namespace, Labels: labels}
	var old *workload.Object
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		if o, err := workload.DecodeObject("admission", req.OldObject.Raw); err == nil {
			old = o
		}
	}
	if msg := d.OptOut.refusal(req, obj, labels); msg != "" {
		return &Decision{Allowed: false, Message: msg}, nil
	}
	if d.Mesh != nil {
		engine = engine.WithInjector(d.Mesh)
	}
	engine = d.withImageData(ctx, engine, ns, obj, old)
	findings := engine.Evaluate(obj, ns)

	var existing map[string]bool
	if old != nil {
		existing = map[string]bool{}
		for _, f := range engine.Evaluate(old, ns) {
			existing[findingKey(&f)] = true
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

// withImageData returns engine with what the registry holds about the images of obj (and of old,
// on UPDATE, so violations an update did not introduce are recognised), when any policy that
// applies asks for it.
func (d *WorkloadDecider) withImageData(ctx context.Context, engine *policy.Engine, ns policy.Namespace, obj, old *workload.Object) *policy.Engine {
	if d.Images == nil {
		return engine
	}
	refs := engine.TrustNeeds(obj, ns)
	if old != nil {
		refs = append(refs, engine.TrustNeeds(old, ns)...)
	}
	if len(refs) == 0 {
		return engine
	}
	return engine.WithImageData(d.Images.ImageData(ctx, refs, PullContextOf(obj)))
}

// PullContextOf is the pull context of a workload's pods: its namespace, ServiceAccount and
// image pull secrets.
func PullContextOf(obj *workload.Object) PullContext {
	pull := PullContext{Namespace: obj.Namespace, ServiceAccount: "default"}
	if obj.Template == nil {
		return pull
	}
	if sa := obj.Template.Spec.ServiceAccountName; sa != "" {
		pull.ServiceAccount = sa
	}
	for _, s := range obj.Template.Spec.ImagePullSecrets {
		pull.PullSecrets = append(pull.PullSecrets, s.Name)
	}
	return pull
}

// requestObject returns the engine in force and the request's object, with the namespace and
// name the request carries when the object leaves them out (a Pod's generated name, say).
func requestObject(engines EngineSource, req *admissionv1.AdmissionRequest) (*policy.Engine, *workload.Object, error) {
	engine := engines()
	if engine == nil {
		return nil, nil, ErrNotReady
	}
	obj, err := workload.DecodeObject("admission", req.Object.Raw)
	if err != nil {
		return nil, nil, fmt.Errorf("decoding %s %s/%s: %w", req.Kind.Kind, req.Namespace, req.Name, err)
	}
	if obj.Namespace == "" {
		obj.Namespace = req.Namespace
	}
	if obj.Name == "" {
		obj.Name = req.Name
	}
	return engine, obj, nil
}

// findingKey identifies a finding across the old and new versions of an object.
// Image findings also carry their message, which names the image: an update that swaps one
// unsigned image for another is a new violation, not the old one grandfathered.
func findingKey(f *policy.Finding) string {
	key := f.Policy + "|" + f.Check + "|" + f.Container + "|" + f.Path
	if strings.HasPrefix(f.Check, "image.") {
		key += "|" + f.Message
	}
	return key
}
