package policy

import (
	"fmt"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/workload"
)

// ParsePolicies reads ClusterSecurityPolicy and SecurityPolicy documents from one policy file,
// the same YAML that is applied to the cluster. A SecurityPolicy without a namespace belongs to
// defaultNamespace. Any other kind, an unknown field or a policy that does not compile is an
// error naming the file, line and field; no policy of a broken file is returned.
func ParsePolicies(file string, data []byte, defaultNamespace string) ([]*Policy, error) {
	objs, errs := workload.Decode(file, data)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%s: no ClusterSecurityPolicy or SecurityPolicy found", file)
	}
	var out []*Policy
	for _, o := range objs {
		p, err := parsePolicyObject(o, defaultNamespace)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", o.File, o.Line, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePolicyObject(o *workload.Object, defaultNamespace string) (*Policy, error) {
	if o.Name == "" {
		return nil, fmt.Errorf("%s has no metadata.name", o.Kind)
	}
	if o.Kind != "ClusterSecurityPolicy" && o.Kind != "SecurityPolicy" {
		return nil, fmt.Errorf("a policy file holds ClusterSecurityPolicy and SecurityPolicy objects, not %s %q", o.Kind, o.Name)
	}
	if o.APIVersion != v1alpha1.GroupVersion.String() {
		return nil, fmt.Errorf("%s %q has apiVersion %q, want %s", o.Kind, o.Name, o.APIVersion, v1alpha1.GroupVersion)
	}
	var spec *v1alpha1.SecurityPolicySpec
	namespace := ""
	switch o.Kind {
	case "ClusterSecurityPolicy":
		var p v1alpha1.ClusterSecurityPolicy
		if err := workload.UnmarshalStrict(o.JSON, &p); err != nil {
			return nil, fmt.Errorf("ClusterSecurityPolicy %q: %w", o.Name, err)
		}
		spec = &p.Spec
	case "SecurityPolicy":
		var p v1alpha1.SecurityPolicy
		if err := workload.UnmarshalStrict(o.JSON, &p); err != nil {
			return nil, fmt.Errorf("SecurityPolicy %q: %w", o.Name, err)
		}
		spec, namespace = &p.Spec, p.Namespace
		if namespace == "" {
			namespace = defaultNamespace
		}
	}
	return Compile(o.Name, namespace, spec)
}
