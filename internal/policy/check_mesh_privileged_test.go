package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Attacks on invariant 4: a privileged or escalating app obtains what admission refused.
func TestPrivilegedOrEscalatingAppIsRefused(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   string
	}{
		{"privileged", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.Privileged = ptr(true) },
			"mesh.privileged@spec.containers[0].securityContext.privileged"},
		{"allowPrivilegeEscalation unset", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil },
			"mesh.privileged@spec.containers[0].securityContext.allowPrivilegeEscalation"},
		{"allowPrivilegeEscalation true", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr(true) },
			"mesh.privileged@spec.containers[0].securityContext.allowPrivilegeEscalation"},
	}
	for _, tt := range tests {
		got := meshFindings(t, tt.mutate)
		found := false
		for _, g := range got {
			found = found || g == tt.want
		}
		if !found {
			t.Errorf("%s: got %v, want %s", tt.name, got, tt.want)
		}
	}
}
