package accesspolicy

import (
	"errors"
	"fmt"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/workload"
)

// Decode reads the AccessPolicies in a manifest stream (multi-document YAML, JSON, Lists) and
// skips every other kind, so a whole directory of manifests can be given. Unknown or misspelt
// fields are errors. A policy without a namespace gets defaultNamespace. Every broken
// document is reported, with its file and line, in the joined error; the others are returned.
func Decode(file string, data []byte, defaultNamespace string) ([]v1alpha1.AccessPolicy, error) {
	objs, decodeErrs := workload.Decode(file, data)
	var errs []error
	for _, e := range decodeErrs {
		errs = append(errs, e)
	}
	var out []v1alpha1.AccessPolicy
	for _, o := range objs {
		if o.Kind != "AccessPolicy" || o.Group() != v1alpha1.GroupVersion.Group {
			continue
		}
		if o.APIVersion != v1alpha1.GroupVersion.String() {
			errs = append(errs, fmt.Errorf("%s:%d: AccessPolicy %s: apiVersion %s is not served, write %s", o.File, o.Line, o.Name, o.APIVersion, v1alpha1.GroupVersion))
			continue
		}
		var ap v1alpha1.AccessPolicy
		if err := workload.UnmarshalStrict(o.JSON, &ap); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: AccessPolicy %s: %w", o.File, o.Line, o.Name, err))
			continue
		}
		if ap.Namespace == "" {
			ap.Namespace = defaultNamespace
		}
		out = append(out, ap)
	}
	return out, errors.Join(errs...)
}
