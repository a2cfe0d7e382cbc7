package admission

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/workload"
)

// PolicyDecider refuses security policies that do not compile, so a broken CEL rule or a
// misspelt check ID is an error at `kubectl apply`, not a policy silently left out.
type PolicyDecider struct{}

// Decide compiles the policy in the request exactly as the policy cache will.
func (PolicyDecider) Decide(_ context.Context, req *admissionv1.AdmissionRequest) (*Decision, error) {
	var (
		spec      *v1alpha1.SecurityPolicySpec
		namespace string
		err       error
	)
	switch req.Kind.Kind {
	case "ClusterSecurityPolicy":
		var p v1alpha1.ClusterSecurityPolicy
		err = workload.UnmarshalStrict(req.Object.Raw, &p)
		spec = &p.Spec
	case "SecurityPolicy":
		var p v1alpha1.SecurityPolicy
		err = workload.UnmarshalStrict(req.Object.Raw, &p)
		spec, namespace = &p.Spec, req.Namespace
	default:
		return nil, fmt.Errorf("the policies webhook does not judge %s", req.Kind.Kind)
	}
	if err != nil {
		return &Decision{Allowed: false, Message: fmt.Sprintf("outrider refused %s %q: %v", req.Kind.Kind, req.Name, err)}, nil
	}
	// Secrets are not read here: a policy may be applied before the Secret it names.
	if _, err := policy.CompileWith(req.Name, namespace, spec, policy.CompileOptions{SkipSecrets: true}); err != nil {
		return &Decision{Allowed: false, Message: fmt.Sprintf("outrider refused %s %q: %v", req.Kind.Kind, req.Name, err)}, nil
	}
	return &Decision{Allowed: true}, nil
}
