package install

import (
	"errors"
	"io"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// rendered is a rendered release, parsed.
type rendered struct {
	manifest string
	objects  []*unstructured.Unstructured
}

// render renders the chart with opts and parses every object; it fails the test on error.
func render(t *testing.T, opts Options) *rendered {
	t.Helper()
	r, err := Render(opts)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	out := &rendered{manifest: r.Manifest}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(r.Manifest), 4096)
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parsing the rendered manifest: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		out.objects = append(out.objects, &unstructured.Unstructured{Object: m})
	}
	return out
}

// all returns the objects of kind.
func (r *rendered) all(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.objects {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// one converts the only object of kind (and name, when not empty) into into.
func (r *rendered) one(t *testing.T, kind, name string, into any) {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range r.all(kind) {
		if name == "" || o.GetName() == name {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d objects of kind %s named %q, want 1", len(found), kind, name)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(found[0].Object, into); err != nil {
		t.Fatalf("converting %s %s: %v", kind, name, err)
	}
}
