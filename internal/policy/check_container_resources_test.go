package policy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestCheckResources(t *testing.T) {
	p := compile(t, `{}`)
	q := resource.MustParse
	tests := []struct {
		name      string
		resources corev1.ResourceRequirements
		missing   string
	}{
		{"complete", corev1.ResourceRequirements{
			Requests: corev1.ResourceList{"cpu": q("1"), "memory": q("1Gi")},
			Limits:   corev1.ResourceList{"memory": q("1Gi")}}, ""},
		{"no cpu limit is fine", corev1.ResourceRequirements{
			Requests: corev1.ResourceList{"cpu": q("1"), "memory": q("1Gi")},
			Limits:   corev1.ResourceList{"memory": q("2Gi")}}, ""},
		{"nothing", corev1.ResourceRequirements{}, "requests.cpu, requests.memory, limits.memory"},
		{"no memory limit", corev1.ResourceRequirements{
			Requests: corev1.ResourceList{"cpu": q("1"), "memory": q("1Gi")}}, "limits.memory"},
		{"limits only", corev1.ResourceRequirements{
			Limits: corev1.ResourceList{"cpu": q("1"), "memory": q("1Gi")}}, "requests.cpu, requests.memory"},
	}
	for _, tt := range tests {
		obj := podWith(t, func(p *corev1.Pod) { p.Spec.Containers[0].Resources = tt.resources })
		var msgs []string
		for _, f := range evaluate(obj, p) {
			if f.Check == "container.resources" {
				msgs = append(msgs, f.Message)
			}
		}
		if tt.missing == "" {
			if len(msgs) != 0 {
				t.Errorf("%s: got %v", tt.name, msgs)
			}
			continue
		}
		if len(msgs) != 1 || !strings.HasSuffix(msgs[0], "does not set "+tt.missing) {
			t.Errorf("%s: got %v, want missing %s", tt.name, msgs, tt.missing)
		}
	}
}

func TestCheckResourcesSkipsEphemeralContainers(t *testing.T) {
	p := compile(t, `{}`)
	obj := podWith(t, func(p *corev1.Pod) {
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug", Image: "registry.example.com/debug:1"}}}
	})
	if got := checksOf(evaluate(obj, p), "container.resources"); got != nil {
		t.Errorf("ephemeral containers cannot set resources, got %v", got)
	}
}
