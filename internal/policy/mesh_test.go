package policy

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// meshFindings evaluates the compliant pod, changed by mutate, in a namespace labelled into the
// mesh, and lists its mesh findings as "check@path".
func meshFindings(t *testing.T, mutate func(*corev1.Pod)) []string {
	t.Helper()
	p, err := DefaultPolicy()
	if err != nil {
		t.Fatal(err)
	}
	fs := NewEngine([]*Policy{p}, func() time.Time { return testNow }).Evaluate(podWith(t, mutate),
		Namespace{Name: "app", Labels: map[string]string{MeshLabel: MeshEnabled}})
	var out []string
	for _, f := range fs {
		if strings.HasPrefix(f.Check, "mesh.") {
			out = append(out, f.Check+"@"+f.Path)
		}
	}
	return out
}

func TestCompliantPodPassesTheMeshChecks(t *testing.T) {
	if got := meshFindings(t, nil); got != nil {
		t.Errorf("a compliant meshed pod has mesh findings: %v", got)
	}
}

// Outside the mesh the isolation rules do not apply (the reserved names always do).
func TestMeshChecksOnlyApplyToMeshedPods(t *testing.T) {
	p, _ := DefaultPolicy()
	fs := evaluate(podWith(t, func(p *corev1.Pod) { p.Spec.ShareProcessNamespace = ptr(true) }), p)
	for _, f := range fs {
		if strings.HasPrefix(f.Check, "mesh.") {
			t.Errorf("mesh check outside the mesh: %+v", f)
		}
	}
}

func TestMeshByPodAnnotation(t *testing.T) {
	p, _ := DefaultPolicy()
	fs := evaluate(podWith(t, func(p *corev1.Pod) {
		p.Annotations = map[string]string{MeshAnnotation: MeshEnabled}
		p.Spec.ShareProcessNamespace = ptr(true)
	}), p)
	if got := checksOf(fs, "mesh.sharedNamespaces"); len(got) != 1 {
		t.Errorf("an annotated pod is meshed: got %v", got)
	}
}
