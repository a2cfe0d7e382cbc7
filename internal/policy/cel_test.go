package policy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCELRules(t *testing.T) {
	p := compile(t, `
rules:
- id: team-label
  expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
  message: "workloads need a team label"
  severity: high
- id: custom.no-host-aliases
  expression: "!has(podSpec.hostAliases)"
  message: "hostAliases rewrite name resolution"
- id: configmap-size
  kinds: [ConfigMap]
  expression: "!has(object.data) || size(object.data) < 2"
  message: "too many keys"
`)
	withTeam := podWith(t, func(p *corev1.Pod) { p.Labels = map[string]string{"team": "a"} })
	if got := checksOf(evaluate(withTeam, p), ""); got != nil {
		t.Errorf("compliant: %v", got)
	}
	bad := podWith(t, func(p *corev1.Pod) {
		p.Spec.HostAliases = []corev1.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"x"}}}
	})
	fs := evaluate(bad, p)
	got := checksOf(fs, "")
	want := []string{"custom.team-label@spec", "custom.no-host-aliases@spec"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
	if fs[0].Severity != SeverityHigh || fs[1].Severity != SeverityMedium || fs[0].Message != "workloads need a team label" {
		t.Errorf("severity/message: %+v", fs)
	}
	cm := decodeOne(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1', b: '2'}\n")
	if got := checksOf(evaluate(cm, p), ""); len(got) != 1 || !strings.HasPrefix(got[0], "custom.configmap-size@") {
		t.Errorf("ConfigMap rule: %v", got)
	}
}

// A rule that cannot be evaluated fails closed and says why.
func TestCELRuleErrorFailsClosed(t *testing.T) {
	p := compile(t, `rules: [{id: r, expression: "object.spec.nope == 1", message: "m"}]`)
	fs := evaluate(podWith(t, nil), p)
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "could not be evaluated") {
		t.Fatalf("got %+v", fs)
	}
}

// An expression that would run away is stopped by the cost limit instead of hanging.
func TestCELRuleCostLimit(t *testing.T) {
	p := compile(t, `rules: [{id: r, expression: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+e+f > 0))))))", message: "m"}]`)
	fs := evaluate(podWith(t, nil), p)
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "could not be evaluated") {
		t.Fatalf("got %+v", fs)
	}
}
