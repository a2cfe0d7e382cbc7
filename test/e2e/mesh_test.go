//go:build e2e

package e2e

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestMeshedAppCannotBecomeOrBypassTheProxy attacks DESIGN invariant 4 through the real API
// server: in a namespace labelled into the mesh, an application container that would run as the
// proxy's UID, add NET_ADMIN or NET_RAW, share the process namespace, or pass itself off as the
// proxy is refused at admission; a restricted pod is admitted.
func TestMeshedAppCannotBecomeOrBypassTheProxy(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "mesh", map[string]string{"security.outrider.dev/mesh": "enabled"})
	ctx := ctxFor(t, time.Minute)
	attacks := []struct {
		name, check string
		mutate      func(*corev1.PodSpec)
	}{
		{"runs-as-proxy-uid", "mesh.proxyIdentity", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.RunAsUser = ptr.To[int64](1337) }},
		{"no-run-as-user", "mesh.proxyIdentity", func(s *corev1.PodSpec) { s.SecurityContext.RunAsUser = nil }},
		{"adds-net-admin", "mesh.netCapabilities", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}},
		{"adds-net-raw", "mesh.netCapabilities", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_RAW"}
		}},
		{"shares-process-namespace", "mesh.sharedNamespaces", func(s *corev1.PodSpec) { s.ShareProcessNamespace = ptr.To(true) }},
		{"impersonates-the-proxy", "mesh.reservedNames", func(s *corev1.PodSpec) { s.Containers[0].Name = "outrider-proxy" }},
	}
	for _, a := range attacks {
		spec := restrictedPodSpec()
		a.mutate(&spec)
		_, err := env.cs.CoreV1().Pods(ns).Create(ctx, newPod(ns, a.name, spec), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		requireRefused(t, err, "meshed pod "+a.name, "["+a.check+"]")
	}
	if _, err := env.cs.CoreV1().Pods(ns).Create(ctx, newPod(ns, "restricted", restrictedPodSpec()), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("a restricted pod in the mesh was refused: %v", err)
	}
}
