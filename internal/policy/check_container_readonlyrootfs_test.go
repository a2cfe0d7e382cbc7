package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCheckReadOnlyRootFilesystem(t *testing.T) {
	p := compile(t, `{}`)
	tests := []struct {
		name string
		set  *bool
		want bool
	}{
		{"true", ptr(true), false},
		{"false", ptr(false), true},
		{"unset", nil, true},
	}
	for _, tt := range tests {
		obj := podWith(t, func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = tt.set })
		got := checksOf(evaluate(obj, p), "container.readOnlyRootFilesystem")
		if (len(got) > 0) != tt.want {
			t.Errorf("%s: got %v, want violation=%v", tt.name, got, tt.want)
		}
	}
	obj := podWith(t, func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "registry.example.com/i:1"}}
	})
	got := checksOf(evaluate(obj, p), "container.readOnlyRootFilesystem")
	if len(got) != 1 || got[0] != "container.readOnlyRootFilesystem@spec.initContainers[0].securityContext.readOnlyRootFilesystem" {
		t.Errorf("init container without a security context: got %v", got)
	}
}
