package accesspolicy

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

// maxWarnings bounds the warnings a status carries, as the CRD does.
const maxWarnings = 32

// Report is what compiling did with one AccessPolicy, for its status and the service's log.
type Report struct {
	Policy     PolicyKey
	Generation int64
	// Errors make the policy invalid: none of its rules apply, but it still selects its
	// workloads (all of its namespace if the selector is what is wrong), so they accept only
	// what other policies allow until it is fixed.
	Errors field.ErrorList
	// Warnings are what a valid policy admits beyond what it says (a podSelector widened to
	// whole ServiceAccounts) or peers it names that match nothing yet.
	Warnings []string
	// Selected counts the meshed workloads the policy selects.
	Selected int
}

// Ready reports whether the policy is valid and in force.
func (r *Report) Ready() bool { return len(r.Errors) == 0 }

// Message says what is wrong with an invalid policy, or what a valid one selects.
func (r *Report) Message() string {
	if r.Ready() {
		return fmt.Sprintf("in force on %d meshed workload(s)", r.Selected)
	}
	msgs := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		msgs[i] = e.Error()
	}
	return fmt.Sprintf("invalid, so none of its rules apply and the %d workload(s) it selects accept only what other policies allow: %s",
		r.Selected, strings.Join(msgs, "; "))
}

// Status is the AccessPolicy status the report describes.
func (r *Report) Status() v1alpha1.AccessPolicyStatus {
	warnings := r.Warnings
	if len(warnings) > maxWarnings {
		warnings = append(warnings[:maxWarnings-1:maxWarnings-1], fmt.Sprintf("and %d more warnings", len(r.Warnings)-maxWarnings+1))
	}
	return v1alpha1.AccessPolicyStatus{Ready: r.Ready(), Message: r.Message(), Warnings: warnings, ObservedGeneration: r.Generation}
}
