package policy

import (
	"github.com/openvex/go-vex/pkg/vex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/outrider-sec/outrider/api/v1alpha1"

	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/imagetrust/vuln"
)

// fakeImageData serves reports by the image's normalised name and tag.
type fakeImageData struct {
	reports map[string]*vuln.EvaluatedReport
	require bool
	// trust is registry data by image as written.
	trust map[string]*ImageTrust
}

func (f fakeImageData) Trust(ref imageref.Reference) *ImageTrust { return f.trust[ref.Raw] }

func (f fakeImageData) VEX() []*vex.VEX { return nil }

func (f fakeImageData) VulnerabilityReport(ref imageref.Reference) *vuln.EvaluatedReport {
	return f.reports[ref.Name()+":"+ref.Tag]
}

func (f fakeImageData) RequireVulnerabilityReport() bool { return f.require }

const vulnImage = "registry.example.com/app:1.0"

// report builds an evaluated report for vulnImage made at created, with findings written as
// "ID severity cvss fixed-version" ("-" for no fix).
func report(created time.Time, findings ...string) *vuln.EvaluatedReport {
	r := &vuln.Report{Artifact: vuln.Artifact{Name: vulnImage}, CreatedAt: created, Scanner: "trivy 0.57.1"}
	for _, f := range findings {
		var id, sev, fixed string
		var cvss float64
		parts := strings.Fields(f)
		id, sev = parts[0], parts[1]
		if len(parts) > 2 {
			cvss, _ = strconv.ParseFloat(parts[2], 64)
		}
		if len(parts) > 3 && parts[3] != "-" {
			fixed = parts[3]
		}
		r.Findings = append(r.Findings, vuln.Finding{ID: id, Package: "pkg", InstalledVersion: "1", FixedVersion: fixed, Severity: vuln.Severity(sev), CVSS: cvss})
	}
	return vuln.Evaluate(r, "app.json", nil)
}

// compileSpec compiles a spec written in YAML and returns the compiler's error.
func compileSpec(specYAML string) (*Policy, error) {
	var spec v1alpha1.SecurityPolicySpec
	if err := yaml.UnmarshalStrict([]byte(specYAML), &spec); err != nil {
		return nil, err
	}
	return Compile("test", "", &spec)
}

func evaluateWithData(t *testing.T, policyYAML string, data ImageData, mutate func(*corev1.Pod)) []Finding {
	t.Helper()
	obj := podWith(t, mutate)
	e := NewEngine([]*Policy{compile(t, policyYAML)}, func() time.Time { return testNow })
	return e.WithImageData(data).Evaluate(obj, Namespace{Name: "app"})
}

type vulnResult struct {
	Check, Severity, Path, Message string
}

func vulnResults(fs []Finding, prefix string) []vulnResult {
	var out []vulnResult
	for _, f := range fs {
		if strings.HasPrefix(f.Check, prefix) && f.Suppressed == nil {
			out = append(out, vulnResult{f.Check, string(f.Severity), f.Path, f.Message})
		}
	}
	return out
}

func TestCheckImageVulnerabilities(t *testing.T) {
	fresh := testNow.Add(-time.Hour)
	mixed := report(fresh, "CVE-1 high 7.5 1.1", "CVE-2 critical 9.8 2.0", "CVE-3 medium 5.0 -", "CVE-4 high 7.0 -")
	const msgPrefix = `image "registry.example.com/app:1.0": `
	const from = " in the trivy 0.57.1 report of 2026-11-23 (app.json): "
	tests := []struct {
		name   string
		policy string
		report *vuln.EvaluatedReport
		noData bool
		want   []vulnResult
	}{
		{"no gate in the policy", `{}`, mixed, false, nil},
		{"no report source", `images: {vulnerabilities: {}}`, mixed, true, nil},
		{"no report for the image", `images: {vulnerabilities: {}}`, nil, false, nil},
		{"default failOn high", `images: {vulnerabilities: {}}`, mixed, false, []vulnResult{{"image.vulnerabilities", "critical", "spec.containers[0].image",
			msgPrefix + "3 vulnerabilities at or above high (1 critical, 2 high)" + from +
				"CVE-2 (critical, pkg 1, fixed in 2.0), CVE-1 (high, pkg 1, fixed in 1.1), CVE-4 (high, pkg 1, no fix); 2 of 3 have a fix"}}},
		{"failOn critical", `images: {vulnerabilities: {failOn: critical}}`, report(fresh, "CVE-1 high 7.5 1.1"), false, nil},
		{"failOn medium counts medium", `images: {vulnerabilities: {failOn: medium}}`, report(fresh, "CVE-3 medium 5.0 -"), false, []vulnResult{{"image.vulnerabilities", "medium", "spec.containers[0].image",
			msgPrefix + "1 vulnerability at or above medium (1 medium)" + from + "CVE-3 (medium, pkg 1, no fix); none has a fix yet"}}},
		{"ignoreUnfixed", `images: {vulnerabilities: {ignoreUnfixed: true}}`, report(fresh, "CVE-4 high 7.0 -", "CVE-3 medium 5.0 -"), false, nil},
		{"ignoreUnfixed keeps fixed", `images: {vulnerabilities: {ignoreUnfixed: true}}`, report(fresh, "CVE-4 high 7.0 -", "CVE-1 high 7.5 1.1"), false, []vulnResult{{"image.vulnerabilities", "high", "spec.containers[0].image",
			msgPrefix + "1 vulnerability at or above high (1 high)" + from + "CVE-1 (high, pkg 1, fixed in 1.1); it has a fix"}}},
		{"allowed", `images: {vulnerabilities: {allow: [{id: cve-1, reason: "not reachable"}]}}`, report(fresh, "CVE-1 high 7.5 1.1"), false, nil},
		{"allowed until later", `images: {vulnerabilities: {allow: [{id: CVE-1, reason: r, expires: "2027-01-01"}]}}`, report(fresh, "CVE-1 high 7.5 1.1"), false, nil},
		{"allowance expired", `images: {vulnerabilities: {allow: [{id: CVE-1, reason: r, expires: "2026-01-01"}]}}`, report(fresh, "CVE-1 high 7.5 1.1"), false, []vulnResult{{"image.vulnerabilities", "high", "spec.containers[0].image",
			msgPrefix + "1 vulnerability at or above high (1 high)" + from + "CVE-1 (high, pkg 1, fixed in 1.1); it has a fix; allow entries expired: CVE-1 (expired 2026-01-01)"}}},
		{"maxCVSS lifts a medium", `images: {vulnerabilities: {failOn: critical, maxCVSS: 9.0}}`, report(fresh, "CVE-5 medium 9.1 3.0", "CVE-6 medium 8.9 -"), false, []vulnResult{{"image.vulnerabilities", "critical", "spec.containers[0].image",
			msgPrefix + "1 vulnerability at or above critical or with CVSS 9 or more (1 critical)" + from + "CVE-5 (critical, pkg 1, fixed in 3.0); it has a fix"}}},
		{"severity override", `{images: {vulnerabilities: {}}, checks: [{id: image.vulnerabilities, severity: low}]}`, report(fresh, "CVE-2 critical 9.8 2.0"), false, []vulnResult{{"image.vulnerabilities", "low", "spec.containers[0].image",
			msgPrefix + "1 vulnerability at or above high (1 critical)" + from + "CVE-2 (critical, pkg 1, fixed in 2.0); it has a fix"}}},
		{"turned off", `{images: {vulnerabilities: {}}, checks: [{id: image.vulnerabilities, enabled: false}]}`, mixed, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var data ImageData
			if !tt.noData {
				data = fakeImageData{reports: map[string]*vuln.EvaluatedReport{"registry.example.com/app:1.0": tt.report}}
			}
			got := vulnResults(evaluateWithData(t, tt.policy, data, nil), "image.vulnerabilities")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestCheckImageVulnerabilitiesListsTheWorstFive(t *testing.T) {
	r := report(testNow, "CVE-a high 7.1 1", "CVE-b high 7.2 1", "CVE-c critical 9.0 -", "CVE-d critical 9.0 1",
		"CVE-e high 7.3 1", "CVE-f high 7.4 -", "CVE-g high 7.4 1", "CVE-h low 2.0 1")
	data := fakeImageData{reports: map[string]*vuln.EvaluatedReport{"registry.example.com/app:1.0": r}}
	got := vulnResults(evaluateWithData(t, `images: {vulnerabilities: {}}`, data, nil), "image.vulnerabilities")
	if len(got) != 1 {
		t.Fatalf("got %v", got)
	}
	ids := []string{"CVE-d (", "CVE-c (", "CVE-g (", "CVE-f (", "CVE-e (", ", +2 more; 5 of 7 have a fix"}
	last := -1
	for _, id := range ids {
		i := strings.Index(got[0].Message, id)
		if i <= last {
			t.Fatalf("%q missing or out of order in %s", id, got[0].Message)
		}
		last = i
	}
}

func TestCheckImageVulnerabilitiesEveryContainerList(t *testing.T) {
	r := report(testNow, "CVE-2 critical 9.8 2.0")
	data := fakeImageData{reports: map[string]*vuln.EvaluatedReport{"registry.example.com/app:1.0": r}}
	fs := evaluateWithData(t, `images: {vulnerabilities: {}}`, data, func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: vulnImage}}
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: vulnImage}}}
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "other", Image: "registry.example.com/other:1.0"})
	})
	want := []string{"image.vulnerabilities@spec.containers[0].image", "image.vulnerabilities@spec.initContainers[0].image", "image.vulnerabilities@spec.ephemeralContainers[0].image"}
	if diff := cmp.Diff(want, checksOf(fs, "image.vulnerabilities")); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
}

func TestCompileVulnerabilities(t *testing.T) {
	tests := []struct{ spec, want string }{
		{`images: {vulnerabilities: {failOn: urgent}}`, `spec.images.vulnerabilities.failOn: Unsupported value: "urgent"`},
		{`images: {vulnerabilities: {maxReportAge: week}}`, `spec.images.vulnerabilities.maxReportAge: Invalid value: "week": want a duration like "168h" or "7d"`},
		{`images: {vulnerabilities: {maxReportAge: "-1h"}}`, `spec.images.vulnerabilities.maxReportAge: Invalid value: "-1h": must be longer than zero`},
		{`images: {vulnerabilities: {maxCVSS: 11}}`, `spec.images.vulnerabilities.maxCVSS: Invalid value: "11"`},
		{`images: {vulnerabilities: {maxCVSS: "high"}}`, `spec.images.vulnerabilities.maxCVSS: Invalid value: "high"`},
		{`images: {vulnerabilities: {allow: [{id: CVE-1}]}}`, `spec.images.vulnerabilities.allow[0].reason: Required value`},
		{`images: {vulnerabilities: {allow: [{reason: r}]}}`, `spec.images.vulnerabilities.allow[0].id: Required value`},
		{`images: {vulnerabilities: {allow: [{id: CVE-1, reason: r, expires: soon}]}}`, `spec.images.vulnerabilities.allow[0].expires: Invalid value: "soon"`},
	}
	for _, tt := range tests {
		_, err := compileSpec(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.spec, err, tt.want)
		}
	}
	p := compile(t, `images: {vulnerabilities: {maxReportAge: 7d, maxCVSS: "9.5", allow: [{id: CVE-1, reason: r, expires: "2027-01-01"}]}}`)
	v := p.Vulnerabilities()
	want := &VulnerabilityRules{FailOn: SeverityHigh, MaxReportAge: 7 * 24 * time.Hour, MaxCVSS: 9.5,
		Allow: []VulnerabilityAllowance{{ID: "CVE-1", Reason: "r", Expires: time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC), ExpiresAs: "2027-01-01"}}}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
	if defaultPolicy(t).Vulnerabilities() != nil {
		t.Error("the default policy has a vulnerability gate")
	}
}

func defaultPolicy(t *testing.T) *Policy {
	t.Helper()
	p, err := DefaultPolicy()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
