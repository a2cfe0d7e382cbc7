package report

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// resultBuilder assembles a Result the way scan.Run does: objects in input order with their
// findings, then input errors, then Summarize.
type resultBuilder struct {
	r Result
}

func newResult() *resultBuilder {
	return &resultBuilder{r: Result{Findings: []policy.Finding{}, Errors: []InputError{}}}
}

// object adds an evaluated object, named "namespace/name" or "name", and its findings, which
// take the object's identity, file and line.
func (b *resultBuilder) object(kind, name, file string, line int, findings ...policy.Finding) *resultBuilder {
	res := policy.Resource{APIVersion: apiVersionOf(kind), Kind: kind, Name: name}
	if ns, n, ok := strings.Cut(name, "/"); ok {
		res.Namespace, res.Name = ns, n
	}
	b.r.Resources = append(b.r.Resources, ResourceRef{Resource: res, File: file, Line: line})
	for _, f := range findings {
		f.Resource, f.File, f.Line = res, file, line
		b.r.Findings = append(b.r.Findings, f)
	}
	return b
}

func (b *resultBuilder) inputError(file string, line int, msg string) *resultBuilder {
	b.r.Errors = append(b.r.Errors, InputError{File: file, Line: line, Message: msg})
	return b
}

// build summarises the result over files inputs, failing at failOn.
func (b *resultBuilder) build(files int, failOn policy.Severity) *Result {
	r := b.r
	r.Summarize(files, failOn)
	return &r
}

func apiVersionOf(kind string) string {
	switch kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		return "apps/v1"
	case "Job", "CronJob":
		return "batch/v1"
	}
	return "v1"
}

type findingOpt func(*policy.Finding)

// finding is a finding of an Enforce policy "default", with the catalogue's remediation for
// a built-in check.
func finding(check string, sev policy.Severity, opts ...findingOpt) policy.Finding {
	f := policy.Finding{Check: check, Severity: sev, Mode: v1alpha1.ModeEnforce, Policy: "default",
		Message: "violates " + check}
	if e, ok := policy.Lookup(check); ok {
		f.Remediation = e.Remediation
	}
	for _, o := range opts {
		o(&f)
	}
	return f
}

func mode(m v1alpha1.PolicyMode) findingOpt { return func(f *policy.Finding) { f.Mode = m } }
func msg(m string) findingOpt               { return func(f *policy.Finding) { f.Message = m } }
func fix(r string) findingOpt               { return func(f *policy.Finding) { f.Remediation = r } }
func inPolicy(p string) findingOpt          { return func(f *policy.Finding) { f.Policy = p } }
func at(path string) findingOpt             { return func(f *policy.Finding) { f.Path = path } }

// inContainer sets the container and a path under the pod template's containers[i].
func inContainer(name string, i int, field string) findingOpt {
	return func(f *policy.Finding) {
		f.Container = name
		f.Path = fmt.Sprintf("spec.template.spec.containers[%d].%s", i, field)
	}
}

func suppressed(by, reason string) findingOpt {
	return func(f *policy.Finding) { f.Suppressed = &policy.Suppression{By: by, Reason: reason} }
}

// richResult has a bit of everything: findings of every mode and several severities, both
// kinds of suppression, a custom rule, an object without findings, stdin with line 0, a
// path with a space, and an input error.
func richResult() *Result {
	return newResult().
		object("Deployment", "shop/web", "manifests/web.yaml", 12,
			finding("pss.privileged", policy.SeverityCritical, inContainer("app", 0, "securityContext.privileged"),
				msg(`privileged container "app"`)),
			finding("image.latest", policy.SeverityMedium, mode(v1alpha1.ModeWarn),
				inContainer("app", 0, "image"), msg(`image "nginx" has no tag`)),
			finding("pss.runAsNonRoot", policy.SeverityHigh, at("spec.template.spec.securityContext.runAsNonRoot"),
				suppressed("annotation", "legacy image, tracked in SHOP-123"))).
		object("Deployment", "shop/api", "manifests/web.yaml", 40).
		object("Pod", "default/debug", "charts/my app/pod.yaml", 1,
			finding("container.resources", policy.SeverityLow, mode(v1alpha1.ModeAudit),
				inContainer("sh", 0, "resources"), msg(`container "sh" sets no memory limit`)),
			finding("image.registry", policy.SeverityHigh, inContainer("sh", 0, "image"),
				msg(`image "docker.io/busybox" is not from an allowed registry`),
				suppressed("exception", "debug pods may use busybox until 2027-01-01")),
			finding("custom.team-label", policy.SeverityHigh, inPolicy("team-rules"), at("metadata.labels"),
				msg("every workload needs a team label"), fix("Add the label team: <name> to metadata.labels."))).
		object("Job", "batch/report", "-", 0,
			finding("pod.automountServiceAccountToken", policy.SeverityInfo,
				at("spec.template.spec.automountServiceAccountToken"), msg("the service account token is mounted"))).
		inputError("manifests/bad.yaml", 3, "yaml: line 3: mapping values are not allowed in this context").
		build(4, policy.SeverityHigh)
}

// failResult has blocking findings and no input errors.
func failResult() *Result {
	return newResult().
		object("Deployment", "shop/web", "manifests/web.yaml", 1,
			finding("pss.privileged", policy.SeverityCritical, inContainer("app", 0, "securityContext.privileged"),
				msg(`privileged container "app"`)),
			finding("image.latest", policy.SeverityMedium, inContainer("app", 0, "image"), msg(`image "nginx" has no tag`))).
		build(1, policy.SeverityHigh)
}

// passResult has an object without findings.
func passResult() *Result {
	return newResult().object("Deployment", "shop/web", "manifests/web.yaml", 1).build(1, policy.SeverityHigh)
}

// emptyResult saw nothing at all.
func emptyResult() *Result { return newResult().build(0, policy.SeverityHigh) }

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./internal/report -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got), run with -update if intended:\n%s", path, diff)
	}
}
