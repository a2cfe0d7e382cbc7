package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// Attacks on invariant 4: leave the pod's network, or look into the proxy's processes.
func TestMeshedPodSharingNamespacesIsRefused(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"hostNetwork", func(p *corev1.Pod) { p.Spec.HostNetwork = true }, []string{"mesh.sharedNamespaces@spec.hostNetwork"}},
		{"hostPID", func(p *corev1.Pod) { p.Spec.HostPID = true }, []string{"mesh.sharedNamespaces@spec.hostPID"}},
		{"shareProcessNamespace", func(p *corev1.Pod) { p.Spec.ShareProcessNamespace = ptr(true) }, []string{"mesh.sharedNamespaces@spec.shareProcessNamespace"}},
		{"shareProcessNamespace false", func(p *corev1.Pod) { p.Spec.ShareProcessNamespace = ptr(false) }, nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, meshFindings(t, tt.mutate)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
