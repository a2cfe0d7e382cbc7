// Package v1alpha1 holds the Outrider CRD types of the security.outrider.dev API group:
// the security policies that admission and `outrider scan` enforce, and the access policies
// that the mesh enforces.
//
// +kubebuilder:object:generate=true
// +groupName=security.outrider.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "security.outrider.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
