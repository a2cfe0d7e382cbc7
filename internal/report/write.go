package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/outrider-sec/outrider/internal/policy"
)

// Options control rendering. The zero value renders plain text without colour, hides
// suppressed findings and leaves the tool version out.
type Options struct {
	// Color adds ANSI colour to the text format. The CLI sets it only when stdout is a
	// terminal and NO_COLOR is unset; the other formats ignore it.
	Color bool
	// ToolVersion is the Outrider version, for SARIF tool.driver.version and a JUnit property.
	ToolVersion string
	// ShowSuppressed lists suppressed findings in the text format too. They are always counted
	// in the summary, and always present in the machine formats.
	ShowSuppressed bool
}

// Formats lists the accepted values of `outrider scan -o`.
var Formats = []string{"text", "json", "sarif", "junit"}

// ErrUnknownFormat is returned, wrapped, by Write for a format not in Formats.
var ErrUnknownFormat = errors.New("unknown output format")

// Write renders r in format (one of Formats) to w. r should have been summarised
// (Result.Summarize): the verdict, counts and fail-on severity come from r.Summary. The report
// is rendered in memory and written at once, so a rendering error leaves w untouched.
func Write(w io.Writer, format string, r *Result, opts Options) error {
	if r == nil {
		return errors.New("writing the report: nil result")
	}
	var buf bytes.Buffer
	s, err := NewStream(&buf, format, opts)
	if err != nil {
		return err
	}
	if err := s.Add(r); err != nil {
		return fmt.Errorf("rendering %s report: %w", format, err)
	}
	if err := s.Close(&r.Summary); err != nil {
		return err
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing %s report: %w", format, err)
	}
	return nil
}

// resourceGroup is one evaluated object and its findings, in input order.
type resourceGroup struct {
	ref      ResourceRef
	findings []*policy.Finding
}

// groupKey identifies an object: findings carry the file and line of the object they are about.
type groupKey struct {
	policy.Resource
	file string
	line int
}

// groupByResource pairs findings with the objects in r.Resources, in input order. Findings about
// an object missing from r.Resources get a group of their own, after the listed ones, in the
// order they appear.
func groupByResource(r *Result) []*resourceGroup {
	var groups []*resourceGroup
	index := map[groupKey]*resourceGroup{}
	add := func(ref ResourceRef) *resourceGroup {
		k := groupKey{ref.Resource, ref.File, ref.Line}
		if g, ok := index[k]; ok {
			return g
		}
		g := &resourceGroup{ref: ref}
		index[k] = g
		groups = append(groups, g)
		return g
	}
	for _, ref := range r.Resources {
		add(ref)
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		g := add(ResourceRef{Resource: f.Resource, File: f.File, Line: f.Line})
		g.findings = append(g.findings, f)
	}
	return groups
}

// displayFile names an input for people and CI systems: stdin ("-") is "stdin".
func displayFile(file string) string {
	if file == "-" {
		return "stdin"
	}
	return file
}

// objectName is "namespace/name", or "name" for a cluster-scoped object.
func objectName(r policy.Resource) string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

// location is "file:line", or "file" when the line is unknown.
func location(file string, line int) string {
	file = displayFile(file)
	if line <= 0 {
		return file
	}
	return fmt.Sprintf("%s:%d", file, line)
}
