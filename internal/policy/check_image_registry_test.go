package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestCheckImageRegistry(t *testing.T) {
	p := compile(t, `images: {allowedRegistries: ["registry.example.com", "ghcr.io/acme", "nginx"]}`)
	tests := []struct {
		image string
		want  []string
	}{
		{"registry.example.com/app:1.0", nil},
		{"ghcr.io/acme/x:1", nil},
		{"nginx:1.27", nil},
		{"docker.io/library/nginx:1.27", nil},
		{"ghcr.io/acme-evil/x:1", []string{"image.registry@spec.containers[0].image"}},
		{"registry.example.com.evil.io/app:1", []string{"image.registry@spec.containers[0].image"}},
		{"quay.io/acme/x:1", []string{"image.registry@spec.containers[0].image"}},
		{"Not A Reference", []string{"image.registry@spec.containers[0].image"}},
	}
	for _, tt := range tests {
		obj := podWith(t, func(p *corev1.Pod) { p.Spec.Containers[0].Image = tt.image })
		got := checksOf(evaluate(obj, p), "image.registry")
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.image, diff)
		}
	}
}

func TestCheckImageRegistryInitContainerFromUnapprovedRegistry(t *testing.T) {
	p := compile(t, `images: {allowedRegistries: ["registry.example.com"]}`)
	obj := podWith(t, func(p *corev1.Pod) {
		c := p.Spec.Containers[0]
		c.Name, c.Image = "fetch", "evil.example.com/fetch:1"
		p.Spec.InitContainers = []corev1.Container{c}
	})
	fs := evaluate(obj, p)
	if got := checksOf(fs, "image.registry"); len(got) != 1 || got[0] != "image.registry@spec.initContainers[0].image" {
		t.Fatalf("got %v", got)
	}
	if fs[0].Container != "fetch" {
		t.Errorf("container = %q, want fetch", fs[0].Container)
	}
}

func TestCheckImageRegistryWithoutAllowlistPassesAll(t *testing.T) {
	p := compile(t, `{}`)
	obj := podWith(t, func(p *corev1.Pod) { p.Spec.Containers[0].Image = "anything.example/x:1" })
	if got := checksOf(evaluate(obj, p), "image.registry"); got != nil {
		t.Errorf("got %v", got)
	}
}
