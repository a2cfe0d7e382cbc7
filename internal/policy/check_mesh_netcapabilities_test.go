package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Attacks on invariant 4: NET_ADMIN rewrites the capture rules, NET_RAW goes around them.
func TestAppWithNetAdminOrNetRawIsRefused(t *testing.T) {
	for _, capability := range []corev1.Capability{"NET_ADMIN", "NET_RAW", "CAP_NET_RAW", "net_admin", "ALL"} {
		got := meshFindings(t, func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_BIND_SERVICE", capability}
		})
		if len(got) != 1 || got[0] != "mesh.netCapabilities@spec.containers[0].securityContext.capabilities.add" {
			t.Errorf("adding %s: got %v", capability, got)
		}
	}
	if got := meshFindings(t, func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_BIND_SERVICE"}
	}); got != nil {
		t.Errorf("NET_BIND_SERVICE alone: got %v", got)
	}
}
