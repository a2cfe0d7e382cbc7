package policy

import "github.com/outrider-sec/outrider/api/v1alpha1"

// Resource names the object a finding is about.
type Resource struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
}

// Finding is one violation of one check by one object (and, where it concerns one, container).
type Finding struct {
	// Check is the stable check ID, like "pss.privileged" or "image.registry".
	Check    string              `json:"check"`
	Severity Severity            `json:"severity"`
	Mode     v1alpha1.PolicyMode `json:"mode"`
	// Policy names the policy that asked for the check.
	Policy    string   `json:"policy"`
	Resource  Resource `json:"resource"`
	Container string   `json:"container"`
	// Path is the field to change, like "spec.template.spec.containers[1].securityContext".
	Path string `json:"path"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Remediation says, in one line, what to change.
	Remediation string `json:"remediation,omitempty"`
	File        string `json:"file"`
	Line        int    `json:"line"`
	// Suppressed is set when an annotation or a policy exception silences the finding.
	Suppressed *Suppression `json:"suppressed,omitempty"`
}

// Suppression records why a finding does not count.
type Suppression struct {
	// By is "annotation" or "exception".
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// Blocking reports whether the finding refuses the object: an unsuppressed finding of an
// Enforce policy at or above min.
func (f *Finding) Blocking(min Severity) bool {
	return f.Suppressed == nil && f.Mode == v1alpha1.ModeEnforce && f.Severity.AtLeast(min)
}
