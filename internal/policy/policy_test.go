package policy

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

// Bad policies are refused with every problem named by its field path.
func TestCompileRejectsBadPolicies(t *testing.T) {
	tests := []struct {
		spec string
		want []string
	}{
		{`mode: Block`, []string{`spec.mode: Unsupported value: "Block"`}},
		{`podSecurity: {level: strict}`, []string{`spec.podSecurity.level: Unsupported value: "strict"`}},
		{`podSecurity: {version: "1.34"}`, []string{`spec.podSecurity.version: Invalid value: "1.34"`}},
		{`images: {allowedRegistries: ["ghcr.io/*"]}`, []string{`spec.images.allowedRegistries`, "wildcards"}},
		{`checks: [{id: no.such.check}]`, []string{`spec.checks[0].id: Invalid value: "no.such.check": unknown check`}},
		{`checks: [{id: pss.privileged, enabled: true}]`, []string{`spec.checks[0].enabled`, "can only turn one off"}},
		{`checks: [{id: image.latest, severity: urgent}]`, []string{`spec.checks[0].severity`}},
		{`checks: [{id: image.latest}, {id: image.latest}]`, []string{`spec.checks[1].id: Duplicate value`}},
		{`rules: [{id: r, expression: "object.spec.", message: m}]`, []string{`spec.rules[0].expression`, "Syntax error"}},
		{`rules: [{id: r, expression: "1 + 1", message: m}]`, []string{`spec.rules[0].expression`, "must evaluate to a bool"}},
		{`rules: [{id: r, expression: "true"}]`, []string{`spec.rules[0].message: Required value`}},
		{`exceptions: [{checks: ["*"], resources: [{name: x}]}]`, []string{`spec.exceptions[0].reason: Required value`}},
		{`exceptions: [{checks: ["*"], resources: [{name: x}], reason: r, expires: soon}]`, []string{`spec.exceptions[0].expires: Invalid value: "soon"`}},
		{`match: {selector: {matchExpressions: [{key: a, operator: Maybe}]}}`, []string{`spec.match.selector`}},
		// Several problems at once are all reported.
		{`{mode: Block, podSecurity: {level: strict}}`, []string{"spec.mode", "spec.podSecurity.level"}},
	}
	for _, tt := range tests {
		var spec v1alpha1.SecurityPolicySpec
		if err := yaml.Unmarshal([]byte(tt.spec), &spec); err != nil {
			t.Fatalf("%s: %v", tt.spec, err)
		}
		_, err := Compile("bad", "", &spec)
		if err == nil {
			t.Errorf("%s: compiled, want an error", tt.spec)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tt.spec, err, w)
			}
		}
	}
}

func TestDefaultPolicy(t *testing.T) {
	p, err := DefaultPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != v1alpha1.ModeEnforce || p.PodSecurity.String() != "restricted:latest" {
		t.Errorf("default policy = %s", p)
	}
	ids := strings.Join(p.CheckIDs(), " ")
	for _, want := range []string{"pss.privileged", "pss.runAsNonRoot", "image.latest", "env.secretLiteral", "container.resources"} {
		if !strings.Contains(ids, want) {
			t.Errorf("default policy does not run %s", want)
		}
	}
	if strings.Contains(ids, "image.digest") {
		t.Error("image.digest must be off by default")
	}
}

func TestCheckSettings(t *testing.T) {
	p := compile(t, `checks: [{id: container.resources, enabled: false}, {id: pss.runAsNonRoot, enabled: false}, {id: image.latest, severity: critical}]`)
	ids := strings.Join(p.CheckIDs(), " ")
	if strings.Contains(ids, "container.resources") || strings.Contains(ids, "pss.runAsNonRoot") {
		t.Errorf("disabled checks still run: %s", ids)
	}
	if got := p.severityOf("image.latest", SeverityMedium); got != SeverityCritical {
		t.Errorf("severity override = %s", got)
	}
}
