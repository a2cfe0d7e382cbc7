package policy

import (
	"time"

	"github.com/outrider-sec/outrider/internal/workload"
)

// Check is one of Outrider's own checks. Its Eval is a pure function of the input.
type Check struct {
	// ID is stable across releases; findings, suppressions and exceptions use it.
	ID string
	// Title is a short name for people.
	Title string
	// Severity is the default severity of the check's findings.
	Severity Severity
	// Remediation says, in one line, what to change.
	Remediation string
	// DefaultOn says whether the check runs when no policy setting turns it on.
	DefaultOn bool
	// Standalone says the check also judges an image on its own (Engine.EvaluateImage).
	Standalone bool
	// Eval returns the violations of one pod template.
	Eval func(in *Input) []Violation
}

// Input is what a check sees: the object, its pod template and every container in it, and the
// settings of the policy being evaluated.
type Input struct {
	Object     *workload.Object
	Template   *workload.PodTemplate
	Containers []workload.ContainerRef
	Images     *ImageRules
	// ImageData holds what the front end learnt about images (reports); nil when nothing was.
	ImageData ImageData
	// Image is set, with no template or containers, when an image is judged on its own.
	Image *ImageSubject
	// Namespace is where the object lives (or will), with its labels.
	Namespace Namespace
	// Now is the engine's clock at the start of the evaluation.
	Now time.Time
}

// Violation is a check's raw result, before the engine adds the policy, mode and resource.
type Violation struct {
	Container string
	Path      string
	Message   string
	// Severity overrides the check's severity for this violation when set.
	Severity Severity
}

// severityOr returns the violation's own severity, else def.
func (v Violation) severityOr(def Severity) Severity {
	if v.Severity != "" {
		return v.Severity
	}
	return def
}

// containerViolation is the common case: a violation about one container's field.
func containerViolation(c workload.ContainerRef, field, msg string) Violation {
	path := c.Path
	if field != "" {
		path += "." + field
	}
	return Violation{Container: c.Container.Name, Path: path, Message: msg}
}
