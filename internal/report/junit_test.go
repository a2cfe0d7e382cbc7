package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outrider-sec/outrider/internal/policy"
)

func parseJUnit(t *testing.T, r *Result) junitTestSuites {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, "junit", r, Options{ToolVersion: testVersion}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !strings.HasPrefix(buf.String(), xml.Header) {
		t.Errorf("no XML header:\n%.80s", buf.String())
	}
	var doc junitTestSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("the XML does not parse back: %v\n%s", err, buf.String())
	}
	if len(doc.Suites) != 1 || doc.Suites[0].Name != "outrider scan" {
		t.Fatalf("want one suite named %q, got %+v", "outrider scan", doc.Suites)
	}
	return doc
}

// TestJUnitCounts: the counts in the attributes are the cases that are there, and they agree
// with the summary.
func TestJUnitCounts(t *testing.T) {
	for name, r := range map[string]*Result{
		"rich": richResult(), "fail": failResult(), "pass": passResult(), "empty": emptyResult(),
	} {
		t.Run(name, func(t *testing.T) {
			doc := parseJUnit(t, r)
			s := doc.Suites[0]
			type counts struct{ Tests, Failures, Errors, Skipped int }
			var seen counts
			for _, c := range s.Cases {
				seen.Tests++
				n := 0
				if c.Failure != nil {
					seen.Failures++
					n++
				}
				if c.Error != nil {
					seen.Errors++
					n++
				}
				if c.Skipped != nil {
					seen.Skipped++
					n++
				}
				if n > 1 {
					t.Errorf("case %q has %d outcomes", c.Name, n)
				}
			}
			suite := counts{s.Tests, s.Failures, s.Errors, s.Skipped}
			top := counts{doc.Tests, doc.Failures, doc.Errors, doc.Skipped}
			clean := 0
			for _, g := range groupByResource(r) {
				if len(g.findings) == 0 {
					clean++
				}
			}
			want := counts{
				Tests:    len(r.Findings) + clean + len(r.Errors),
				Failures: r.Summary.Blocking,
				Errors:   r.Summary.Errors,
				Skipped:  r.Summary.Suppressed,
			}
			if diff := cmp.Diff(want, seen); diff != "" {
				t.Errorf("cases (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(seen, suite); diff != "" {
				t.Errorf("testsuite attributes (-cases +attributes):\n%s", diff)
			}
			if diff := cmp.Diff(seen, top); diff != "" {
				t.Errorf("testsuites attributes (-cases +attributes):\n%s", diff)
			}
		})
	}
}

func TestJUnitCases(t *testing.T) {
	s := parseJUnit(t, richResult()).Suites[0]
	type tc struct{ Class, Name, Outcome, Detail string }
	var got []tc
	for _, c := range s.Cases {
		row := tc{Class: c.Classname, Name: c.Name, Outcome: "pass"}
		switch {
		case c.Failure != nil:
			row.Outcome, row.Detail = "failure "+c.Failure.Type, c.Failure.Message
		case c.Error != nil:
			row.Outcome, row.Detail = "error", c.Error.Message
		case c.Skipped != nil:
			row.Outcome, row.Detail = "skipped", c.Skipped.Message
		case c.SystemOut != "":
			row.Detail = strings.SplitN(c.SystemOut, "\n", 2)[0]
		}
		got = append(got, row)
	}
	want := []tc{
		{"manifests/web.yaml", "Deployment shop/web: pss.privileged spec.template.spec.containers[0].securityContext.privileged",
			"failure critical", `privileged container "app"`},
		{"manifests/web.yaml", "Deployment shop/web: image.latest spec.template.spec.containers[0].image",
			"pass", `image "nginx" has no tag (medium, Warn policy "default")`},
		{"manifests/web.yaml", "Deployment shop/web: pss.runAsNonRoot spec.template.spec.securityContext.runAsNonRoot",
			"skipped", "suppressed by annotation: legacy image, tracked in SHOP-123"},
		{"manifests/web.yaml", "Deployment shop/api: all checks", "pass", ""},
		{"charts/my app/pod.yaml", "Pod default/debug: container.resources spec.template.spec.containers[0].resources",
			"pass", `container "sh" sets no memory limit (low, Audit policy "default")`},
		{"charts/my app/pod.yaml", "Pod default/debug: image.registry spec.template.spec.containers[0].image",
			"skipped", "suppressed by exception: debug pods may use busybox until 2027-01-01"},
		{"charts/my app/pod.yaml", "Pod default/debug: custom.team-label metadata.labels",
			"failure high", "every workload needs a team label"},
		{"stdin", "Job batch/report: pod.automountServiceAccountToken spec.template.spec.automountServiceAccountToken",
			"pass", `the service account token is mounted (info, Enforce policy "default")`},
		{"manifests/bad.yaml", "input manifests/bad.yaml:3", "error",
			"yaml: line 3: mapping values are not allowed in this context"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("test cases (-want +got):\n%s", diff)
	}
	failure := s.Cases[0].Failure.Text
	if !strings.Contains(failure, "fix: Remove securityContext.privileged or set it to false.") ||
		!strings.Contains(failure, "at: manifests/web.yaml:12") {
		t.Errorf("failure text lacks the remediation or location:\n%s", failure)
	}
	wantProps := []junitProperty{{"outrider.version", testVersion}, {"outrider.failOn", "high"}}
	if diff := cmp.Diff(wantProps, s.Properties); diff != "" {
		t.Errorf("properties (-want +got):\n%s", diff)
	}
}

// TestJUnitFailOn: whether a finding fails follows the summary's fail-on severity.
func TestJUnitFailOn(t *testing.T) {
	b := newResult().object("Pod", "p", "p.yaml", 1, finding("image.latest", policy.SeverityMedium))
	for failOn, want := range map[policy.Severity]int{
		policy.SeverityLow: 1, policy.SeverityMedium: 1, policy.SeverityHigh: 0, policy.SeverityCritical: 0,
	} {
		if got := parseJUnit(t, b.build(1, failOn)).Failures; got != want {
			t.Errorf("fail on %s: %d failures, want %d", failOn, got, want)
		}
	}
}

// TestJUnitEscapes: messages with markup and control characters still make well-formed XML.
func TestJUnitEscapes(t *testing.T) {
	r := newResult().object("Pod", "ns/p<1>", "a&b.yaml", 1,
		finding("custom.x", policy.SeverityHigh, msg("</failure><x a=\"1\">\x00\x1b]]>"))).build(1, policy.SeverityHigh)
	doc := parseJUnit(t, r)
	c := doc.Suites[0].Cases[0]
	if c.Classname != "a&b.yaml" || !strings.HasPrefix(c.Name, "Pod ns/p<1>: custom.x") || c.Failure == nil {
		t.Errorf("case = %+v", c)
	}
}
