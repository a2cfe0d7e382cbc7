package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCheckAutomountServiceAccountToken(t *testing.T) {
	p := compile(t, `{}`)
	tests := []struct {
		name string
		set  *bool
		want []string
	}{
		{"false", ptr(false), nil},
		{"true", ptr(true), []string{"pod.automountServiceAccountToken@spec.automountServiceAccountToken"}},
		{"unset", nil, []string{"pod.automountServiceAccountToken@spec.automountServiceAccountToken"}},
	}
	for _, tt := range tests {
		obj := podWith(t, func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = tt.set })
		got := checksOf(evaluate(obj, p), "pod.automountServiceAccountToken")
		if len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
