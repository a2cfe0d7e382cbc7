package policy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestSuppressionAnnotation(t *testing.T) {
	p := compile(t, `{}`)
	mk := func(ann map[string]string) []Finding {
		return evaluate(podWith(t, func(p *corev1.Pod) {
			p.Annotations = ann
			p.Spec.Containers[0].Image = "registry.example.com/app:latest"
		}), p)
	}
	fs := mk(map[string]string{AnnotationIgnore: "image.latest", AnnotationIgnoreReason: "pinned by the deploy tool"})
	if len(fs) != 1 || fs[0].Suppressed == nil || fs[0].Suppressed.By != "annotation" || fs[0].Suppressed.Reason != "pinned by the deploy tool" {
		t.Fatalf("with reason: %+v", fs)
	}
	fs = mk(map[string]string{AnnotationIgnore: "image.latest"})
	if len(fs) != 1 || fs[0].Suppressed != nil || !strings.Contains(fs[0].Message, "not honoured") {
		t.Fatalf("without reason: %+v", fs)
	}
	fs = mk(map[string]string{AnnotationIgnore: "image.*", AnnotationIgnoreReason: "r"})
	if len(fs) != 1 || fs[0].Suppressed == nil {
		t.Fatalf("prefix glob: %+v", fs)
	}
	fs = mk(map[string]string{AnnotationIgnore: "image.registry", AnnotationIgnoreReason: "r"})
	if len(fs) != 1 || fs[0].Suppressed != nil {
		t.Fatalf("another check named: %+v", fs)
	}
}

// A workload author cannot silence an Enforce policy that forbids annotations.
func TestSuppressionAnnotationRefusedWhenPolicyForbidsIt(t *testing.T) {
	p := compile(t, `allowSuppressionAnnotations: false`)
	fs := evaluate(podWith(t, func(p *corev1.Pod) {
		p.Annotations = map[string]string{AnnotationIgnore: "*", AnnotationIgnoreReason: "trust me"}
		p.Spec.Containers[0].SecurityContext.Privileged = ptr(true)
	}), p)
	for _, f := range fs {
		if f.Suppressed != nil {
			t.Errorf("suppressed despite the policy: %+v", f)
		}
	}
	if len(fs) == 0 {
		t.Fatal("no findings")
	}
}

func TestPolicyExceptions(t *testing.T) {
	spec := `
exceptions:
- checks: [pss.privileged]
  resources: [{kind: Pod, namespace: app, name: "o*"}]
  reason: "CNI agent needs it"
- checks: ["*"]
  resources: [{name: ok}]
  reason: "expired"
  expires: "2026-01-01"
`
	p := compile(t, spec)
	fs := evaluate(podWith(t, func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext.Privileged = ptr(true)
		p.Spec.Containers[0].Image = "registry.example.com/app:latest"
	}), p)
	var priv, latest *Finding
	for i := range fs {
		switch fs[i].Check {
		case "pss.privileged":
			priv = &fs[i]
		case "image.latest":
			latest = &fs[i]
		}
	}
	if priv == nil || priv.Suppressed == nil || priv.Suppressed.By != "exception" || priv.Suppressed.Reason != "CNI agent needs it" {
		t.Errorf("privileged: %+v", priv)
	}
	if latest == nil || latest.Suppressed != nil || !strings.Contains(latest.Message, "expired 2026-01-01") {
		t.Errorf("expired exception must not apply and must say so: %+v", latest)
	}
	other := podWith(t, func(p *corev1.Pod) { p.Name = "web"; p.Spec.Containers[0].SecurityContext.Privileged = ptr(true) })
	for _, f := range evaluate(other, p) {
		if f.Suppressed != nil {
			t.Errorf("exception applied to another workload: %+v", f)
		}
	}
}
