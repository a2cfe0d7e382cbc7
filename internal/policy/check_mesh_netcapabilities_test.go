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

// The attack the capture tests found: under a baseline-level policy an app that adds nothing
// still holds the runtime's default NET_RAW (sets the proxy's mark, sends raw frames), SETUID
// and SETGID (becomes the proxy's UID/GID). Meshed apps must drop them, whatever the level.
func TestAppKeepingDefaultCapabilitiesIsRefused(t *testing.T) {
	for name, c := range map[string]struct {
		drop []corev1.Capability
		want bool
	}{
		"drops nothing":          {nil, true},
		"drops NET_RAW only":     {[]corev1.Capability{"NET_RAW"}, true},
		"drops the three":        {[]corev1.Capability{"net_raw", "CAP_SETUID", "SETGID"}, false},
		"drops ALL":              {[]corev1.Capability{"ALL"}, false},
		"drops everything named": {[]corev1.Capability{"NET_RAW", "SETUID", "SETGID", "CHOWN"}, false},
	} {
		got := meshFindings(t, func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext.Capabilities.Drop = c.drop
		})
		found := false
		for _, f := range got {
			found = found || f == "mesh.netCapabilities@spec.containers[0].securityContext.capabilities.drop"
		}
		if found != c.want {
			t.Errorf("%s: findings %v, want the drop finding %v", name, got, c.want)
		}
	}
}
