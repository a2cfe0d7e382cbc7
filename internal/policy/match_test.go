package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestMatch(t *testing.T) {
	// The pod is "ok" in namespace "app" (labelled team=a), and carries app=ok.
	tests := []struct {
		match string
		want  bool
	}{
		{`{}`, true},
		{`{namespaces: [app]}`, true},
		{`{namespaces: ["a*"]}`, true},
		{`{namespaces: [other]}`, false},
		{`{excludeNamespaces: ["app"]}`, false},
		{`{namespaceSelector: {matchLabels: {team: a}}}`, true},
		{`{namespaceSelector: {matchLabels: {team: b}}}`, false},
		{`{selector: {matchLabels: {app: ok}}}`, true},
		{`{selector: {matchExpressions: [{key: app, operator: NotIn, values: [ok]}]}}`, false},
		{`{kinds: [Deployment]}`, false},
		{`{kinds: [Pod, Deployment]}`, true},
	}
	for _, tt := range tests {
		p := compile(t, "match: "+tt.match+"\npodSecurity: {level: baseline}")
		got := len(evaluate(podWith(t, func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.Privileged = ptr(true) }), p)) > 0
		if got != tt.want {
			t.Errorf("match %s: matched=%v, want %v", tt.match, got, tt.want)
		}
	}
}

func TestNamespacedPolicyMatchesOnlyItsNamespace(t *testing.T) {
	p := compile(t, `{}`)
	p.Namespace = "elsewhere"
	if fs := evaluate(podWith(t, func(p *corev1.Pod) { p.Spec.HostPID = true }), p); len(fs) != 0 {
		t.Errorf("a SecurityPolicy of another namespace applied: %+v", fs)
	}
}

// A policy selects a Deployment by its pod template's labels, as it would select its Pods.
func TestMatchUsesTemplateLabels(t *testing.T) {
	p := compile(t, `match: {selector: {matchLabels: {tier: web}}}`)
	obj := decodeOne(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    metadata: {labels: {tier: web}}
    spec: {containers: [{name: c, image: "registry.example.com/a:1"}]}
`)
	if len(evaluate(obj, p)) == 0 {
		t.Error("policy did not select the Deployment by its template labels")
	}
}
