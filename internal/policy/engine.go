package policy

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/workload"
)

// Engine evaluates objects against a fixed set of compiled policies. It is safe for
// concurrent use; build a new Engine when the policies change.
type Engine struct {
	policies  []*Policy
	now       func() time.Time
	imageData ImageData
	injector  Injector
}

// Injector recognises what the mesh injector put into a pod: exactly its own containers and
// volumes, as it makes them now. Those are Outrider's, not the workload's: the engine leaves
// them out of every check (the capture init container runs as root with NET_ADMIN by design).
// Anything else under the reserved names is a forgery (mesh.reservedNames).
type Injector interface {
	InjectedContainer(spec *corev1.PodSpec, c *corev1.Container) bool
	InjectedVolume(spec *corev1.PodSpec, v *corev1.Volume) bool
}

// WithInjector returns a copy of the engine that exempts what inj recognises.
func (e *Engine) WithInjector(inj Injector) *Engine {
	c := *e
	c.injector = inj
	return &c
}

// withoutInjected returns the template and containers the checks judge: tmpl without the
// injector's containers and volumes (containers keep their paths in the object).
func (e *Engine) withoutInjected(tmpl *workload.PodTemplate) (*workload.PodTemplate, []workload.ContainerRef) {
	all := workload.AllContainers(tmpl.Spec, tmpl.Path)
	if e.injector == nil {
		return tmpl, all
	}
	var apps []workload.ContainerRef
	injected := 0
	for _, c := range all {
		if c.List == workload.InitContainers && e.injector.InjectedContainer(tmpl.Spec, c.Container) {
			injected++
			continue
		}
		apps = append(apps, c)
	}
	var volumes []corev1.Volume
	for i := range tmpl.Spec.Volumes {
		if !e.injector.InjectedVolume(tmpl.Spec, &tmpl.Spec.Volumes[i]) {
			volumes = append(volumes, tmpl.Spec.Volumes[i])
		}
	}
	if injected == 0 && len(volumes) == len(tmpl.Spec.Volumes) {
		return tmpl, all
	}
	spec := *tmpl.Spec
	spec.InitContainers = nil
	for i := range tmpl.Spec.InitContainers {
		if !e.injector.InjectedContainer(tmpl.Spec, &tmpl.Spec.InitContainers[i]) {
			spec.InitContainers = append(spec.InitContainers, tmpl.Spec.InitContainers[i])
		}
	}
	spec.Volumes = volumes
	out := *tmpl
	out.Spec = &spec
	// The refs in apps point into the original spec; the filtered copy holds the same values.
	return &out, apps
}

// NewEngine returns an engine for policies. now tells exceptions whether they have expired;
// nil means time.Now.
func NewEngine(policies []*Policy, now func() time.Time) *Engine {
	if now == nil {
		now = time.Now
	}
	return &Engine{policies: policies, now: now}
}

// WithImageData returns a copy of the engine whose checks see d (vulnerability reports and,
// later, other facts about images). The engine itself stays pure: d is looked up, not fetched.
func (e *Engine) WithImageData(d ImageData) *Engine {
	c := *e
	c.imageData = d
	return &c
}

// UsesNamespaceLabels reports whether any policy selects namespaces by label, so a caller
// that must look labels up (offline, from Namespace objects) knows whether to.
func (e *Engine) UsesNamespaceLabels() bool {
	for _, p := range e.policies {
		if p.match.namespaceSelector != nil {
			return true
		}
	}
	return false
}

// Namespace is what the engine knows of the namespace an object is (or will be) in.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// Evaluate returns the findings of every matching policy for obj, which lives in ns (the
// caller resolves an unset namespace, as kubectl would). Kinds without a pod spec are judged
// only by custom rules that name them.
func (e *Engine) Evaluate(obj *workload.Object, ns Namespace) []Finding {
	in := &Input{Object: obj, Template: obj.Template, ImageData: e.imageData, Namespace: ns}
	if obj.Template != nil {
		in.Template, in.Containers = e.withoutInjected(obj.Template)
	}
	target := Target{Kind: obj.Kind, Namespace: ns.Name, NamespaceLabels: ns.Labels, Labels: workloadLabels(obj)}
	in.Now = e.now()
	var findings []Finding
	for _, p := range e.policies {
		if !p.Matches(target) {
			continue
		}
		in.Images = p.images
		emit := func(id string, sev Severity, remediation string, vs []Violation) {
			for _, v := range vs {
				findings = append(findings, p.newFinding(in, id, sev, remediation, v))
			}
		}
		if in.Template != nil {
			for _, c := range p.pss {
				if vs := evalPSS(c, in.Template, in.Containers); len(vs) > 0 {
					info := pssInfo(c.id)
					emit(c.id, info.severity, info.remediation, vs)
				}
			}
			for _, c := range p.checks {
				if vs := c.Eval(in); len(vs) > 0 {
					emit(c.ID, c.Severity, c.Remediation, vs)
				}
			}
		}
		for _, r := range p.rules {
			if r.applies(in) {
				if vs := r.eval(in); len(vs) > 0 {
					emit(r.id, r.severity, "", vs)
				}
			}
		}
	}
	return findings
}

// newFinding makes a violation of one of p's checks into a finding about in.Object, with the
// policy's severity override, mode and suppressions.
func (p *Policy) newFinding(in *Input, id string, sev Severity, remediation string, v Violation) Finding {
	obj := in.Object
	f := Finding{
		Check:       id,
		Severity:    p.severityOf(id, v.severityOr(sev)),
		Mode:        p.Mode,
		Policy:      p.Name,
		Resource:    Resource{APIVersion: obj.APIVersion, Kind: obj.Kind, Namespace: obj.Namespace, Name: obj.Name},
		Container:   v.Container,
		Path:        v.Path,
		Message:     v.Message,
		Remediation: remediation,
		File:        obj.File,
		Line:        obj.Line,
	}
	p.suppress(&f, in, in.Now)
	return f
}

// ImageKind is the resource kind of an image judged on its own.
const ImageKind = "Image"

// EvaluateImage judges an image on its own, outside any workload (outrider scan given reports
// and no manifests): only the Standalone checks (the vulnerability gates) of the policies that
// match kind Image in ns run. Findings name a resource of kind Image called subject.Name, in the
// file the report came from; exceptions for kind Image apply.
func (e *Engine) EvaluateImage(subject ImageSubject, ns Namespace) []Finding {
	obj := &workload.Object{Kind: ImageKind, Name: subject.Name}
	if subject.Report != nil {
		obj.File = subject.Report.Source
	}
	in := &Input{Object: obj, Image: &subject, ImageData: e.imageData, Now: e.now()}
	target := Target{Kind: ImageKind, Namespace: ns.Name, NamespaceLabels: ns.Labels}
	var findings []Finding
	for _, p := range e.policies {
		if !p.Matches(target) {
			continue
		}
		in.Images = p.images
		for _, c := range p.checks {
			if !c.Standalone {
				continue
			}
			for _, v := range c.Eval(in) {
				findings = append(findings, p.newFinding(in, c.ID, c.Severity, c.Remediation, v))
			}
		}
	}
	return findings
}

// PinsDigests reports whether a policy that applies to obj asks for its images to be pinned to
// digests (spec.images.pinDigests, on by default).
func (e *Engine) PinsDigests(obj *workload.Object, ns Namespace) bool {
	for _, p := range e.matching(obj, ns) {
		if p.images.PinDigests {
			return true
		}
	}
	return false
}

// TrustNeeds lists the images of obj that policies applying to it want registry data about
// (digest, signatures, attestations; see ImageData.Trust), each once. Images that do not parse
// are left out: image.registry reports them.
func (e *Engine) TrustNeeds(obj *workload.Object, ns Namespace) []imageref.Reference {
	if obj.Template == nil {
		return nil
	}
	var out []imageref.Reference
	seen := map[string]bool{}
	policies := e.matching(obj, ns)
	_, containers := e.withoutInjected(obj.Template)
	for _, c := range containers {
		ref, err := parsedImage(c)
		if err != nil || seen[c.Container.Image] {
			continue
		}
		for _, p := range policies {
			if p.images.needsTrust(ref) {
				seen[c.Container.Image] = true
				out = append(out, ref)
				break
			}
		}
	}
	return out
}

// matching returns the policies that apply to obj in ns.
func (e *Engine) matching(obj *workload.Object, ns Namespace) []*Policy {
	target := Target{Kind: obj.Kind, Namespace: ns.Name, NamespaceLabels: ns.Labels, Labels: workloadLabels(obj)}
	var out []*Policy
	for _, p := range e.policies {
		if p.Matches(target) {
			out = append(out, p)
		}
	}
	return out
}

// workloadLabels are the labels policies select on: the pod template's over the object's own,
// so a policy selects a Deployment and the Pods it creates alike.
func workloadLabels(obj *workload.Object) map[string]string {
	if obj.Template == nil || obj.Template.Meta == nil || len(obj.Template.Meta.Labels) == 0 {
		return obj.Labels
	}
	if len(obj.Labels) == 0 {
		return obj.Template.Meta.Labels
	}
	merged := make(map[string]string, len(obj.Labels)+len(obj.Template.Meta.Labels))
	for k, v := range obj.Labels {
		merged[k] = v
	}
	for k, v := range obj.Template.Meta.Labels {
		merged[k] = v
	}
	return merged
}
