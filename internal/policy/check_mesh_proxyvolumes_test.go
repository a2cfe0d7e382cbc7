package policy

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Attack on invariant 5: the app mounts the proxy's admin socket or identity volume.
func TestAppMountingProxyVolumesIsRefused(t *testing.T) {
	got := meshFindings(t, func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "outrider-proxy-admin", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "outrider-proxy-admin", MountPath: "/run/outrider"}}
	})
	if !slices.Contains(got, "mesh.proxyVolumes@spec.containers[0].volumeMounts[1]") {
		t.Errorf("got %v", got)
	}
}
