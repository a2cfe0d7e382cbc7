package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestCheckImageDigest(t *testing.T) {
	tests := []struct {
		policy, image string
		want          bool
	}{
		{`{}`, "registry.example.com/app:1.0", false}, // off by default
		{`images: {requireDigest: true}`, "registry.example.com/app:1.0", true},
		{`images: {requireDigest: true}`, "registry.example.com/app@" + testDigest, false},
		{`images: {requireDigest: true}`, "registry.example.com/app:1.0@" + testDigest, false},
		{`checks: [{id: image.digest, enabled: true}]`, "registry.example.com/app:1.0", true},
	}
	for _, tt := range tests {
		obj := podWith(t, func(p *corev1.Pod) { p.Spec.Containers[0].Image = tt.image })
		got := checksOf(evaluate(obj, compile(t, tt.policy)), "image.digest")
		if (len(got) > 0) != tt.want {
			t.Errorf("policy %s, image %s: got %v, want violation=%v", tt.policy, tt.image, got, tt.want)
		}
	}
}
