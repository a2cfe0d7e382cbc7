package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/policy"
)

// The text format, for people:
//
//	Deployment shop/web  manifests/web.yaml:12
//	  critical pss.privileged  container "app" is privileged
//	           spec.template.spec.containers[0].securityContext.privileged (container "app")
//	           fix: Remove securityContext.privileged or set it to false.
//
//	Input errors
//	  manifests/bad.yaml:3: yaml: mapping values are not allowed in this context
//
//	12 resources in 3 files: 5 findings (2 high, 3 medium), 1 suppressed, 1 error — ERROR: ...
//
// Objects appear in input order, each with its findings; objects without (visible) findings
// are only counted. Findings of Warn and Audit policies are marked [warn] and [audit].
// Suppressed findings are listed, marked, only with Options.ShowSuppressed. Messages are
// never wrapped, so each finding stays greppable on one line; everything Outrider adds
// fits in 100 columns.

// ANSI SGR sequences. Only used when Options.Color is set.
const (
	ansiReset     = "\x1b[0m"
	ansiBold      = "\x1b[1m"
	ansiDim       = "\x1b[2m"
	ansiRed       = "\x1b[31m"
	ansiBoldRed   = "\x1b[1;31m"
	ansiGreen     = "\x1b[32m"
	ansiBoldGreen = "\x1b[1;32m"
	ansiYellow    = "\x1b[33m"
	ansiCyan      = "\x1b[36m"
)

// severityWidth is the width of the severity column: len("critical").
const severityWidth = 8

// detailIndent lines the path and fix lines up under the check ID.
var detailIndent = strings.Repeat(" ", 2+severityWidth+1)

// textWriter prints with optional colour and keeps the first write error.
type textWriter struct {
	w     io.Writer
	color bool
	err   error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// paint wraps s in the SGR sequence code, or returns it as it is without colour.
func (t *textWriter) paint(code, s string) string {
	if !t.color || code == "" || s == "" {
		return s
	}
	return code + s + ansiReset
}

// groups prints the objects of part that have findings to show, each with its findings.
func (t *textWriter) groups(part *Result, opts Options) {
	for _, g := range groupByResource(part) {
		var shown []*policy.Finding
		for _, f := range g.findings {
			if f.Suppressed == nil || opts.ShowSuppressed {
				shown = append(shown, f)
			}
		}
		if len(shown) == 0 {
			continue
		}
		t.printf("%s  %s\n", t.paint(ansiBold, g.ref.Kind+" "+objectName(g.ref.Resource)), location(g.ref.File, g.ref.Line))
		for _, f := range shown {
			t.finding(f)
		}
		t.printf("\n")
	}
}

// tail prints the input errors and the summary line.
func (t *textWriter) tail(errs []InputError, s *Summary) {
	if len(errs) > 0 {
		t.printf("%s\n", t.paint(ansiBold, "Input errors"))
		for _, e := range errs {
			t.printf("  %s: %s\n", location(e.File, e.Line), oneLine(e.Message))
		}
		t.printf("\n")
	}
	t.printf("%s\n", t.summary(s))
}

// finding prints one finding: a line with severity, check and message, then the field path,
// the suppression (when shown) and the fix.
func (t *textWriter) finding(f *policy.Finding) {
	pad := strings.Repeat(" ", max(0, severityWidth-len(f.Severity)))
	sev := t.paint(severityColor(f.Severity), string(f.Severity)) + pad
	check := f.Check
	if m := modeMarker(f.Mode); m != "" {
		check += " " + t.paint(ansiYellow, m)
	}
	if f.Suppressed != nil {
		sev = t.paint(ansiDim, string(f.Severity)) + pad
		check += " " + t.paint(ansiDim, "[suppressed]")
	}
	t.printf("  %s %s  %s\n", sev, check, oneLine(f.Message))
	if f.Path != "" || f.Container != "" {
		where := f.Path
		if f.Container != "" {
			where = strings.TrimSpace(fmt.Sprintf("%s (container %q)", f.Path, f.Container))
		}
		t.printf("%s%s\n", detailIndent, t.paint(ansiDim, where))
	}
	if s := f.Suppressed; s != nil {
		t.printf("%s%s\n", detailIndent, t.paint(ansiDim, suppressionText(s)))
	}
	if f.Remediation != "" {
		t.printf("%s%s %s\n", detailIndent, t.paint(ansiGreen, "fix:"), oneLine(f.Remediation))
	}
}

// summary is the last line: what was scanned, what was found, and the verdict. It is the one
// line that may pass 100 columns, when findings of every severity are listed.
func (t *textWriter) summary(s *Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s: %s", plural(s.Resources, "resource"), plural(s.Files, "file"),
		plural(s.Findings, "finding"))
	var bySev []string
	for _, sev := range policy.Severities {
		if n := s.BySeverity[sev]; n > 0 {
			bySev = append(bySev, fmt.Sprintf("%d %s", n, sev))
		}
	}
	if len(bySev) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(bySev, ", "))
	}
	fmt.Fprintf(&b, ", %d suppressed, %s — ", s.Suppressed, plural(s.Errors, "error"))
	switch s.Verdict {
	case VerdictError:
		b.WriteString(t.paint(ansiBoldRed, "ERROR"))
		fmt.Fprintf(&b, ": %s could not be read", plural(s.Errors, "input"))
	case VerdictFail:
		b.WriteString(t.paint(ansiBoldRed, "FAIL"))
		fmt.Fprintf(&b, ": %d at or above %s", s.Blocking, s.FailOn)
	default:
		b.WriteString(t.paint(ansiBoldGreen, "PASS"))
	}
	return b.String()
}

// severityColor: critical and high red, medium yellow, low cyan, info dim.
func severityColor(s policy.Severity) string {
	switch s {
	case policy.SeverityCritical:
		return ansiBoldRed
	case policy.SeverityHigh:
		return ansiRed
	case policy.SeverityMedium:
		return ansiYellow
	case policy.SeverityLow:
		return ansiCyan
	}
	return ansiDim
}

// modeMarker marks findings that cannot block: "[warn]", "[audit]"; Enforce has none.
func modeMarker(m v1alpha1.PolicyMode) string {
	switch m {
	case v1alpha1.ModeWarn:
		return "[warn]"
	case v1alpha1.ModeAudit:
		return "[audit]"
	}
	return ""
}

// suppressionText is "suppressed by annotation: reason".
func suppressionText(s *policy.Suppression) string {
	text := "suppressed by " + s.By
	if s.Reason != "" {
		text += ": " + oneLine(s.Reason)
	}
	return text
}

// plural is "1 file", "2 files".
func plural(n int, word string) string {
	if n != 1 {
		word += "s"
	}
	return fmt.Sprintf("%d %s", n, word)
}

// oneLine folds a multi-line message (a YAML error, a CEL message) onto one line, so every
// finding and error stays one greppable line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
