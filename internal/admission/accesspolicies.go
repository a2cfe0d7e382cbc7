package admission

import (
	"context"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/mesh/accesspolicy"
	"github.com/outrider-sec/outrider/internal/workload"
)

// AccessPolicyDecider refuses malformed AccessPolicies, so a bad port, an unknown HTTP method
// or a ServiceAccount that is not a name is an error at `kubectl apply`, with the field path
// and what to write instead, and not a policy the identity service has to leave out (which
// makes the workloads it selects deny everything). It admits valid policies with warnings
// about what they admit beyond what they say (pod labels widen to whole ServiceAccounts).
type AccessPolicyDecider struct{}

// Decide validates the AccessPolicy in the request exactly as the compiler will.
func (AccessPolicyDecider) Decide(_ context.Context, req *admissionv1.AdmissionRequest) (*Decision, error) {
	if req.Kind.Kind != "AccessPolicy" {
		return nil, fmt.Errorf("the access policies webhook does not judge %s", req.Kind.Kind)
	}
	var ap v1alpha1.AccessPolicy
	if err := workload.UnmarshalStrict(req.Object.Raw, &ap); err != nil {
		return &Decision{Allowed: false, Message: fmt.Sprintf("outrider refused AccessPolicy %q: %v", req.Name, err)}, nil
	}
	if errs := accesspolicy.Validate(&ap); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return &Decision{Allowed: false, Message: fmt.Sprintf("outrider refused AccessPolicy %q: %s", req.Name, strings.Join(msgs, "; "))}, nil
	}
	return &Decision{Allowed: true, Warnings: accesspolicy.Warnings(&ap)}, nil
}
