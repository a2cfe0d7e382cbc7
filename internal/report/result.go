package report

import (
	"github.com/outrider-sec/outrider/internal/policy"
)

// Result is everything one scan found.
type Result struct {
	// Findings, in input order: by file, then by position in the file.
	Findings []policy.Finding `json:"findings"`
	// Errors are inputs that could not be read or decoded; the rest was still scanned.
	Errors  []InputError `json:"errors"`
	Summary Summary      `json:"summary"`
	// Resources lists every object that was evaluated, so reports can show what passed.
	Resources []ResourceRef `json:"-"`
}

// InputError is a file or document that could not be scanned.
type InputError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// ResourceRef is an evaluated object and where it came from.
type ResourceRef struct {
	policy.Resource
	File string
	Line int
}

// Summary counts what the scan saw and decides its verdict.
type Summary struct {
	Files     int `json:"files"`
	Resources int `json:"resources"`
	// Findings counts unsuppressed findings; Suppressed counts the others.
	Findings   int `json:"findings"`
	Suppressed int `json:"suppressed"`
	// Blocking counts unsuppressed findings of Enforce policies at or above FailOn.
	Blocking   int                     `json:"blocking"`
	BySeverity map[policy.Severity]int `json:"bySeverity"`
	Errors     int                     `json:"errors"`
	FailOn     policy.Severity         `json:"failOn"`
	// Verdict is "pass", "fail" (blocking findings) or "error" (input errors).
	Verdict string `json:"verdict"`
}

// Verdicts, and the exit codes `outrider scan` maps them to.
const (
	VerdictPass  = "pass"  // exit 0
	VerdictFail  = "fail"  // exit 1
	VerdictError = "error" // exit 2
)

// Summarize fills r.Summary from the findings and errors.
func (r *Result) Summarize(files int, failOn policy.Severity) {
	s := NewSummary(failOn)
	s.Count(r)
	s.Finish(files)
	r.Summary = *s
}

// NewSummary starts counting a scan that fails at failOn.
func NewSummary(failOn policy.Severity) *Summary {
	return &Summary{BySeverity: map[policy.Severity]int{}, FailOn: failOn}
}

// Count adds one part of a result (one input's objects, findings and errors).
func (s *Summary) Count(part *Result) {
	s.Resources += len(part.Resources)
	s.Errors += len(part.Errors)
	for i := range part.Findings {
		f := &part.Findings[i]
		if f.Suppressed != nil {
			s.Suppressed++
			continue
		}
		s.Findings++
		s.BySeverity[f.Severity]++
		if f.Blocking(s.FailOn) {
			s.Blocking++
		}
	}
}

// Finish records how many files were read and decides the verdict.
func (s *Summary) Finish(files int) {
	s.Files = files
	switch {
	case s.Errors > 0:
		s.Verdict = VerdictError
	case s.Blocking > 0:
		s.Verdict = VerdictFail
	default:
		s.Verdict = VerdictPass
	}
}

// ExitCode maps a verdict to the process exit code: 0 pass, 1 blocking findings, 2 errors.
func ExitCode(verdict string) int {
	switch verdict {
	case VerdictFail:
		return 1
	case VerdictError:
		return 2
	}
	return 0
}

// ExitCode maps the verdict to the process exit code: 0 pass, 1 blocking findings, 2 errors.
func (r *Result) ExitCode() int { return ExitCode(r.Summary.Verdict) }
