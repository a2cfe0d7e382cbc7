package scan

import (
	"context"
	"io"
	"runtime"
	"sync"
	"time"

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
	// Now is the clock for exception expiry (default time.Now).
	Now func() time.Time
}

// Run scans the inputs and returns the result. Problems with inputs are recorded in the
// result, not returned: the error is only for a cancelled context or a broken default policy.
func Run(ctx context.Context, opts Options) (*report.Result, error) {
	if opts.FailOn == "" {
		opts.FailOn = policy.SeverityHigh
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if len(opts.Policies) == 0 {
		p, err := policy.DefaultPolicy()
		if err != nil {
			return nil, err
		}
		opts.Policies = []*policy.Policy{p}
	}
	srcs, inputErrs := collect(opts.Paths, opts.Kustomizations, opts.Stdin)
	decoded := decodeAll(srcs, opts.Workers)

	res := &report.Result{Errors: inputErrs, Findings: []policy.Finding{}}
	var objs []*workload.Object
	for _, d := range decoded {
		objs = append(objs, d.objects...)
		for _, e := range d.errs {
			res.Errors = append(res.Errors, report.InputError{File: e.File, Line: e.Line, Message: e.Message})
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	engine := policy.NewEngine(opts.Policies, opts.Now)
	namespaces := namespaceLabels(objs)
	perObject := evaluateAll(ctx, engine, objs, namespaces, opts.Namespace, opts.Workers)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, o := range objs {
		if o.Template == nil && len(perObject[i]) == 0 {
			continue // not a workload: passes through untouched
		}
		res.Resources = append(res.Resources, report.ResourceRef{
			Resource: policy.Resource{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name},
			File:     o.File, Line: o.Line,
		})
		res.Findings = append(res.Findings, perObject[i]...)
	}
	if res.Errors == nil {
		res.Errors = []report.InputError{}
	}
	res.Summarize(len(srcs), opts.FailOn)
	return res, nil
}

type decodedSource struct {
	objects []*workload.Object
	errs    []*workload.DecodeError
}

// decodeAll decodes every source with a bounded pool, keeping the sources' order.
func decodeAll(srcs []source, workers int) []decodedSource {
	out := make([]decodedSource, len(srcs))
	parallel(len(srcs), workers, func(i int) {
		objs, errs := workload.Decode(srcs[i].name, srcs[i].data)
		out[i] = decodedSource{objs, errs}
	})
	return out
}

// evaluateAll evaluates every object with a bounded pool, keeping the objects' order.
func evaluateAll(ctx context.Context, e *policy.Engine, objs []*workload.Object, nsLabels map[string]map[string]string, defaultNS string, workers int) [][]policy.Finding {
	out := make([][]policy.Finding, len(objs))
	parallel(len(objs), workers, func(i int) {
		if ctx.Err() != nil {
			return
		}
		ns := objs[i].Namespace
		if ns == "" {
			ns = defaultNS
		}
		labels, ok := nsLabels[ns]
		if !ok {
			// As the API server labels every namespace.
			labels = map[string]string{"kubernetes.io/metadata.name": ns}
		}
		out[i] = e.Evaluate(objs[i], policy.Namespace{Name: ns, Labels: labels})
	})
	return out
}

// parallel calls fn(0..n-1) on up to workers goroutines, in chunks so the pool's overhead
// stays small next to the work.
func parallel(n, workers int, fn func(i int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	const chunk = 32
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				start := next
				next += chunk
				mu.Unlock()
				if start >= n {
					return
				}
				for i := start; i < min(start+chunk, n); i++ {
					fn(i)
				}
			}
		}()
	}
	wg.Wait()
}

// namespaceLabels collects the labels of Namespace objects among the inputs, so policies that
// select namespaces by label work offline as in the cluster.
func namespaceLabels(objs []*workload.Object) map[string]map[string]string {
	m := map[string]map[string]string{}
	for _, o := range objs {
		if o.Kind == "Namespace" && o.Group() == "" {
			labels := map[string]string{"kubernetes.io/metadata.name": o.Name}
			for k, v := range o.Labels {
				labels[k] = v
			}
			m[o.Name] = labels
		}
	}
	return m
}
