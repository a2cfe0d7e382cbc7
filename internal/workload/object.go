package workload

import (
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Object is one decoded manifest with its source position.
type Object struct {
	APIVersion  string
	Kind        string
	Namespace   string
	Name        string
	Labels      map[string]string
	Annotations map[string]string

	// File and Line locate the document the object came from (Line is 1-based; 0 if unknown).
	File string
	Line int

	// JSON is the object as JSON, as decoded.
	JSON []byte

	// Template is the pod template of a workload kind, nil for every other kind.
	Template *PodTemplate

	raw map[string]any
}

// PodTemplate is the pod a workload runs: its metadata, its spec and where the spec sits in the
// workload, so findings can name the field to change.
type PodTemplate struct {
	// Meta is the pod template's metadata (the object's own metadata for a Pod).
	Meta *metav1.ObjectMeta
	// Spec is the pod spec.
	Spec *corev1.PodSpec
	// Path is the field path of Spec in the object, like "spec.template.spec".
	Path string
}

// Group returns the API group of the object ("" for the core group).
func (o *Object) Group() string {
	if i := strings.IndexByte(o.APIVersion, '/'); i >= 0 {
		return o.APIVersion[:i]
	}
	return ""
}

// Unstructured returns the object as a generic map, decoded once on first use.
func (o *Object) Unstructured() (map[string]any, error) {
	if o.raw != nil {
		return o.raw, nil
	}
	var m map[string]any
	if err := json.Unmarshal(o.JSON, &m); err != nil {
		return nil, err
	}
	o.raw = m
	return m, nil
}

// Ref names the object for people: "Deployment default/web".
func (o *Object) Ref() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}
