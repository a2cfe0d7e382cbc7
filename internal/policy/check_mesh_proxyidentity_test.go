package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// Attacks on invariant 4: the application takes the proxy's identity to skip the capture rules.
func TestAppRunningAsProxyUIDIsRefused(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"runAsUser is the proxy's", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.RunAsUser = ptr(ProxyUID) },
			[]string{"mesh.proxyIdentity@spec.containers[0].securityContext.runAsUser"}},
		{"pod-level runAsUser is the proxy's", func(p *corev1.Pod) { p.Spec.SecurityContext.RunAsUser = ptr(ProxyUID) },
			[]string{"mesh.proxyIdentity@spec.containers[0].securityContext.runAsUser"}},
		{"no runAsUser anywhere: the image decides", func(p *corev1.Pod) { p.Spec.SecurityContext.RunAsUser = nil },
			[]string{"mesh.proxyIdentity@spec.containers[0].securityContext.runAsUser"}},
		{"runAsGroup is the proxy's", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.RunAsGroup = ptr(ProxyGID) },
			[]string{"mesh.proxyIdentity@spec.containers[0].securityContext.runAsGroup"}},
		{"fsGroup is the proxy's", func(p *corev1.Pod) { p.Spec.SecurityContext.FSGroup = ptr(ProxyGID) },
			[]string{"mesh.proxyIdentity@spec.securityContext.fsGroup"}},
		{"supplementalGroups hold the proxy's", func(p *corev1.Pod) { p.Spec.SecurityContext.SupplementalGroups = []int64{5, ProxyGID} },
			[]string{"mesh.proxyIdentity@spec.securityContext.supplementalGroups"}},
		{"an init container runs as the proxy", func(p *corev1.Pod) {
			c := *p.Spec.Containers[0].DeepCopy()
			c.Name, c.SecurityContext.RunAsUser = "init", ptr(ProxyUID)
			p.Spec.InitContainers = []corev1.Container{c}
		}, []string{"mesh.proxyIdentity@spec.initContainers[0].securityContext.runAsUser"}},
		{"a container overrides the pod's UID with another", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.RunAsUser = ptr(int64(2000)) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range meshFindings(t, tt.mutate) {
				if strings.HasPrefix(f, "mesh.proxyIdentity@") {
					got = append(got, f)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
