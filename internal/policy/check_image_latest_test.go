package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCheckImageLatest(t *testing.T) {
	p := compile(t, `{}`)
	tests := []struct {
		image string
		want  bool
	}{
		{"registry.example.com/app:1.0", false},
		{"registry.example.com/app", true},
		{"registry.example.com/app:latest", true},
		{"localhost:5000/app", true},
		{"localhost:5000/app:2", false},
		{"registry.example.com/app@" + testDigest, false},
		{"registry.example.com/app:latest@" + testDigest, false},
	}
	for _, tt := range tests {
		obj := podWith(t, func(p *corev1.Pod) { p.Spec.Containers[0].Image = tt.image })
		got := checksOf(evaluate(obj, p), "image.latest")
		if (len(got) > 0) != tt.want {
			t.Errorf("%s: got %v, want violation=%v", tt.image, got, tt.want)
		}
	}
}
