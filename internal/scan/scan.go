package scan

import (
	"context"
	"io"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/outrider-sec/outrider/internal/imagetrust"
	"github.com/outrider-sec/outrider/internal/imagetrust/vuln"
	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/report"
	"github.com/outrider-sec/outrider/internal/workload"
)

// Options say what to scan and how to judge it.
type Options struct {
	// Paths are files, directories (walked recursively for *.yaml, *.yml, *.json) and "-"
	// for standard input.
	Paths []string
	// Kustomizations are directories rendered with kustomize before scanning.
	Kustomizations []string
	// Stdin is read when Paths holds "-".
	Stdin io.Reader
	// Policies judge the objects; empty means the default policy.
	Policies []*policy.Policy
	// FailOn is the lowest severity that fails the scan (default high).
	FailOn policy.Severity
	// Namespace is where objects without a namespace would be applied (default "default").
	Namespace string
	// Workers bounds the parallelism (default GOMAXPROCS).
	Workers int
	// Now is the clock for exception expiry and report age (default time.Now).
	Now func() time.Time
	// VulnReports are vulnerability reports (Trivy JSON, Grype JSON, SARIF, cosign vulnerability
	// attestations). With Paths or Kustomizations they apply to the containers whose image
	// matches; without, each is judged alone as a resource of kind Image.
	VulnReports []string
	// VEX are OpenVEX documents applied to every report.
	VEX []string
	// RequireVulnReport makes an image with no matching report a finding (image.reportAge).
	RequireVulnReport bool
	// Registry asks registries about images that image-trust rules (signatures, attestations)
	// apply to, as admission does. Nil is an offline scan: such images are findings, since
	// they could not be verified.
	Registry *imagetrust.Verifier
	// Keychain holds the registry credentials (nil: anonymous).
	Keychain authn.Keychain
}

func (o *Options) defaults() error {
	if o.FailOn == "" {
		o.FailOn = policy.SeverityHigh
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if len(o.Policies) == 0 {
		def := policy.DefaultPolicy
		if len(o.VulnReports) > 0 {
			def = defaultVulnPolicy
		}
		p, err := def()
		if err != nil {
			return err
		}
		o.Policies = []*policy.Policy{p}
	}
	return nil
}

// Run scans the inputs and returns the whole result. Problems with inputs are recorded in the
// result, not returned: the error is only for a cancelled context or a broken default policy.
func Run(ctx context.Context, opts Options) (*report.Result, error) {
	res := &report.Result{Findings: []policy.Finding{}, Errors: []report.InputError{}}
	summary, err := Stream(ctx, opts, func(part *report.Result) error {
		res.Resources = append(res.Resources, part.Resources...)
		res.Findings = append(res.Findings, part.Findings...)
		res.Errors = append(res.Errors, part.Errors...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Summary = *summary
	return res, nil
}

// Stream scans the inputs and hands emit each input's part of the result, in input order:
// first the inputs that could not be found, then each file's objects, findings and decoding
// errors. Inputs are read, decoded and evaluated in parallel, but only a small window of them is
// held at once, so memory stays flat however many manifests there are.
func Stream(ctx context.Context, opts Options, emit func(part *report.Result) error) (*report.Summary, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	srcs, inputErrs := collect(opts.Paths, opts.Kustomizations, opts.Stdin)
	reports, reportErrs := loadVulnData(opts.VulnReports, opts.VEX)
	inputErrs = append(inputErrs, reportErrs...)
	summary := report.NewSummary(opts.FailOn)
	emitCounted := func(part *report.Result) error {
		summary.Count(part)
		return emit(part)
	}
	if len(inputErrs) > 0 {
		if err := emitCounted(&report.Result{Errors: inputErrs}); err != nil {
			return nil, err
		}
	}
	e := &evaluator{engine: policy.NewEngine(opts.Policies, opts.Now), defaultNS: opts.Namespace,
		registry: opts.Registry, keychain: opts.Keychain}
	if len(opts.VulnReports) > 0 {
		e.data = imagetrust.Data{Reports: vuln.NewIndex(reports), RequireReport: opts.RequireVulnReport}
		e.engine = e.engine.WithImageData(&e.data)
	}
	if len(opts.Paths) == 0 && len(opts.Kustomizations) == 0 && len(reports) > 0 {
		if err := emitCounted(e.judgeReportsAlone(reports)); err != nil {
			return nil, err
		}
	}
	if e.engine.UsesNamespaceLabels() {
		// Policies select namespaces by label: learn the labels of the Namespace objects among
		// the inputs first, as the cluster would know them.
		e.namespaces = namespaceLabels(ctx, srcs, opts.Workers)
	}
	err := ordered(ctx, len(srcs), opts.Workers, func(i int) *report.Result {
		return e.scanSource(ctx, srcs[i])
	}, emitCounted)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	summary.Finish(len(srcs) + len(opts.VulnReports) + len(opts.VEX))
	return summary, nil
}

// evaluator judges the objects of one source at a time.
type evaluator struct {
	engine     *policy.Engine
	namespaces map[string]map[string]string
	defaultNS  string
	// data is what the report files say; registry data is added per object.
	data     imagetrust.Data
	registry *imagetrust.Verifier
	keychain authn.Keychain
}

// engineFor returns the engine with what registries hold about o's images, when image-trust
// rules that apply to o ask for it and the scan is not offline.
func (e *evaluator) engineFor(ctx context.Context, o *workload.Object, ns policy.Namespace) *policy.Engine {
	if e.registry == nil {
		return e.engine
	}
	refs := e.engine.TrustNeeds(o, ns)
	if len(refs) == 0 {
		return e.engine
	}
	data := e.data
	data.Registry = e.registry.Gather(ctx, refs, e.keychain, false)
	return e.engine.WithImageData(&data)
}

// scanSource reads, decodes and evaluates one source, and keeps only what the report needs:
// the decoded objects are dropped before the next source is read.
func (e *evaluator) scanSource(ctx context.Context, src source) *report.Result {
	part := &report.Result{}
	if ctx.Err() != nil {
		return part
	}
	data, err := src.read()
	if err != nil {
		part.Errors = append(part.Errors, report.InputError{File: src.name, Message: err.Error()})
		return part
	}
	objs, errs := workload.Decode(src.name, data)
	for _, de := range errs {
		part.Errors = append(part.Errors, report.InputError{File: de.File, Line: de.Line, Message: de.Message})
	}
	for _, o := range objs {
		ns := e.namespaceOf(o)
		findings := e.engineFor(ctx, o, ns).Evaluate(o, ns)
		if o.Template == nil && len(findings) == 0 {
			continue // not a workload: passes through untouched
		}
		part.Resources = append(part.Resources, report.ResourceRef{
			Resource: policy.Resource{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name},
			File:     o.File, Line: o.Line,
		})
		part.Findings = append(part.Findings, findings...)
	}
	return part
}

// namespaceOf resolves where an object lives, with the labels the API server would give it.
func (e *evaluator) namespaceOf(o *workload.Object) policy.Namespace {
	ns := o.Namespace
	if ns == "" {
		ns = e.defaultNS
	}
	labels, ok := e.namespaces[ns]
	if !ok {
		labels = map[string]string{"kubernetes.io/metadata.name": ns}
	}
	return policy.Namespace{Name: ns, Labels: labels}
}

// namespaceLabels collects the labels of Namespace objects among the inputs.
func namespaceLabels(ctx context.Context, srcs []source, workers int) map[string]map[string]string {
	found := map[string]map[string]string{}
	_ = ordered(ctx, len(srcs), workers, func(i int) map[string]map[string]string {
		data, err := srcs[i].read()
		if err != nil {
			return nil
		}
		objs, _ := workload.Decode(srcs[i].name, data)
		var here map[string]map[string]string
		for _, o := range objs {
			if o.Kind == "Namespace" && o.Group() == "" {
				labels := map[string]string{"kubernetes.io/metadata.name": o.Name}
				for k, v := range o.Labels {
					labels[k] = v
				}
				if here == nil {
					here = map[string]map[string]string{}
				}
				here[o.Name] = labels
			}
		}
		return here
	}, func(here map[string]map[string]string) error {
		for k, v := range here {
			found[k] = v
		}
		return nil
	})
	return found
}
