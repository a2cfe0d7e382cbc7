package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/outrider-sec/outrider/internal/policy"
)

// The JUnit XML format, for CI systems that show test reports (GitLab, Jenkins). One
// <testsuite name="outrider scan"> holds, object by object in input order:
//
//   - a testcase per finding, named "<Kind namespace/name>: <check> <path>", with the file as
//     its classname. A blocking finding (policy.Finding.Blocking at the summary's fail-on
//     severity) fails with <failure type="<severity>">; a non-blocking one passes and says
//     what it found in <system-out>; a suppressed one is <skipped>.
//   - a passing testcase "<Kind namespace/name>: all checks" for an object without findings.
//
// then a testcase with an <error> per input error.

const junitSuiteName = "outrider scan"

type junitTestSuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Skipped  int              `xml:"skipped,attr"`
	Suites   []junitTestSuite `xml:"testsuite"`
}

type junitTestSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitTestCase `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// junitProblem is a <failure> or an <error>.
type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// writeJUnit renders r as indented JUnit XML with an XML header and a trailing newline.
func writeJUnit(w io.Writer, r *Result, opts Options) error {
	suite := junitSuite(r, opts)
	doc := junitTestSuites{Name: suite.Name, Tests: suite.Tests, Failures: suite.Failures,
		Errors: suite.Errors, Skipped: suite.Skipped, Suites: []junitTestSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encoding junit xml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encoding junit xml: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitSuite builds the one test suite and counts its cases.
func junitSuite(r *Result, opts Options) junitTestSuite {
	s := junitTestSuite{Name: junitSuiteName}
	if opts.ToolVersion != "" {
		s.Properties = append(s.Properties, junitProperty{Name: "outrider.version", Value: opts.ToolVersion})
	}
	if r.Summary.FailOn != "" {
		s.Properties = append(s.Properties, junitProperty{Name: "outrider.failOn", Value: string(r.Summary.FailOn)})
	}
	for _, g := range groupByResource(r) {
		object := g.ref.Kind + " " + objectName(g.ref.Resource)
		if len(g.findings) == 0 {
			s.Cases = append(s.Cases, junitTestCase{Classname: displayFile(g.ref.File), Name: object + ": all checks"})
			continue
		}
		for _, f := range g.findings {
			s.Cases = append(s.Cases, junitFindingCase(object, f, r.Summary.FailOn))
		}
	}
	for _, e := range r.Errors {
		s.Cases = append(s.Cases, junitTestCase{
			Classname: displayFile(e.File),
			Name:      "input " + location(e.File, e.Line),
			Error:     &junitProblem{Message: oneLine(e.Message), Type: "input", Text: e.Message},
		})
	}
	for _, c := range s.Cases {
		s.Tests++
		switch {
		case c.Failure != nil:
			s.Failures++
		case c.Error != nil:
			s.Errors++
		case c.Skipped != nil:
			s.Skipped++
		}
	}
	return s
}

// junitFindingCase is the test case of one finding: failed if it blocks, skipped if
// suppressed, passed (with what it found on system-out) otherwise.
func junitFindingCase(object string, f *policy.Finding, failOn policy.Severity) junitTestCase {
	c := junitTestCase{
		Classname: displayFile(f.File),
		Name:      strings.TrimSpace(fmt.Sprintf("%s: %s %s", object, f.Check, f.Path)),
	}
	var text strings.Builder
	fmt.Fprintf(&text, "%s (%s, %s policy %q)\n", f.Message, f.Severity, f.Mode, f.Policy)
	if f.Container != "" {
		fmt.Fprintf(&text, "container: %s\n", f.Container)
	}
	if f.Remediation != "" {
		fmt.Fprintf(&text, "fix: %s\n", f.Remediation)
	}
	fmt.Fprintf(&text, "at: %s\n", location(f.File, f.Line))
	switch {
	case f.Suppressed != nil:
		c.Skipped = &junitSkipped{Message: suppressionText(f.Suppressed)}
	case f.Blocking(failOn):
		c.Failure = &junitProblem{Message: oneLine(f.Message), Type: string(f.Severity), Text: text.String()}
	default:
		c.SystemOut = text.String()
	}
	return c
}
