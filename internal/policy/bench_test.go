package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// BenchmarkEvaluatePod measures one pod through the default policy: every Pod Security
// Standards check at restricted and every default-on Outrider check. Target: well under 100 µs.
func BenchmarkEvaluatePod(b *testing.B) {
	p, err := DefaultPolicy()
	if err != nil {
		b.Fatal(err)
	}
	e := NewEngine([]*Policy{p}, nil)
	b.Run("compliant", func(b *testing.B) {
		obj := podWith(b, nil)
		b.ReportAllocs()
		for b.Loop() {
			e.Evaluate(obj, Namespace{Name: "app"})
		}
	})
	b.Run("violating", func(b *testing.B) {
		obj := podWith(b, func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.SecurityContext = nil
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
			p.Spec.Containers[0].Image = "nginx"
			p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0])
			p.Spec.Containers[1].Name = "sidecar"
		})
		b.ReportAllocs()
		for b.Loop() {
			e.Evaluate(obj, Namespace{Name: "app"})
		}
	})
}
