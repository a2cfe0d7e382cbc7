package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Attack: a workload names its own container after the proxy to be taken for it, even before
// its namespace joins the mesh.
func TestContainerImpersonatingTheProxyIsRefused(t *testing.T) {
	p, _ := DefaultPolicy()
	for _, name := range []string{ProxyContainer, CaptureContainer} {
		fs := evaluate(podWith(t, func(p *corev1.Pod) {
			c := *p.Spec.Containers[0].DeepCopy()
			c.Name = name
			p.Spec.InitContainers = []corev1.Container{c}
		}), p)
		if got := checksOf(fs, "mesh.reservedNames"); len(got) != 1 || got[0] != "mesh.reservedNames@spec.initContainers[0].name" {
			t.Errorf("%s: got %v", name, got)
		}
	}
	fs := evaluate(podWith(t, func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "outrider-proxy-token", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	}), p)
	if got := checksOf(fs, "mesh.reservedNames"); len(got) != 1 || got[0] != "mesh.reservedNames@spec.volumes[0]" {
		t.Errorf("volume: got %v", got)
	}
}
