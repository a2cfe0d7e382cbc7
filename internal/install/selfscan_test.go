package install

import (
	"strings"
	"testing"

	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/workload"
)

// TestChartPassesItsOwnRestrictedPolicy scans every object the chart renders with Outrider's
// default policy (Pod Security Standards restricted plus the default checks), as `outrider
// scan` and admission would: the controller must meet the bar it enforces. The one finding
// it carries, the API token it needs, must be suppressed with a reason, not absent.
func TestChartPassesItsOwnRestrictedPolicy(t *testing.T) {
	for _, set := range [][]string{nil, {"replicas=1", "image.digest=sha256:" + strings.Repeat("ab", 32)}} {
		r := render(t, Options{Set: set})
		objs, errs := workload.Decode("rendered.yaml", []byte(r.manifest))
		if len(errs) > 0 {
			t.Fatalf("decoding the rendered chart: %v", errs)
		}
		def, err := policy.DefaultPolicy()
		if err != nil {
			t.Fatal(err)
		}
		engine := policy.NewEngine([]*policy.Policy{def}, nil)
		var withPods int
		var suppressed []string
		for _, o := range objs {
			if o.Template != nil {
				withPods++
			}
			ns := o.Namespace
			if ns == "" {
				ns = DefaultNamespace
			}
			for _, f := range engine.Evaluate(o, policy.Namespace{Name: ns}) {
				if f.Suppressed != nil {
					suppressed = append(suppressed, f.Check)
					continue
				}
				t.Errorf("%s %s: %s at %s: %s", o.Kind, o.Name, f.Check, f.Path, f.Message)
			}
		}
		if withPods == 0 {
			t.Fatal("no object with a pod template was scanned")
		}
		if len(suppressed) != 1 || suppressed[0] != "pod.automountServiceAccountToken" {
			t.Errorf("suppressed findings %v, want only pod.automountServiceAccountToken", suppressed)
		}
	}
}

// TestDefaultPolicyCompiles: the ClusterSecurityPolicy the chart installs is one the engine
// accepts, with the mode and level from values.
func TestDefaultPolicyCompiles(t *testing.T) {
	for _, tt := range []struct {
		set         []string
		mode, level string
	}{
		{nil, "Enforce", "restricted"},
		{[]string{"defaultPolicy.mode=Audit", "defaultPolicy.level=baseline"}, "Audit", "baseline"},
	} {
		r := render(t, Options{Set: tt.set})
		var doc strings.Builder
		for _, d := range strings.Split(r.manifest, "\n---\n") {
			if strings.Contains(d, "kind: ClusterSecurityPolicy\n") {
				doc.WriteString(d)
			}
		}
		ps, err := policy.ParsePolicies("default-policy.yaml", []byte(doc.String()), DefaultNamespace)
		if err != nil {
			t.Fatalf("the chart's default policy does not compile: %v", err)
		}
		if len(ps) != 1 || ps[0].Name != "default" || string(ps[0].Mode) != tt.mode || string(ps[0].PodSecurity.Level) != tt.level {
			t.Errorf("policies %v, want default %s %s", ps, tt.mode, tt.level)
		}
		if ps[0].Matches(policy.Target{Kind: "Deployment", Namespace: "kube-system"}) ||
			ps[0].Matches(policy.Target{Kind: "Deployment", Namespace: DefaultNamespace}) {
			t.Error("the default policy applies to kube-system or the release namespace")
		}
		if !ps[0].Matches(policy.Target{Kind: "Deployment", Namespace: "default"}) {
			t.Error("the default policy does not apply to namespace default")
		}
	}
}
