package accesspolicy

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

func TestCompile(t *testing.T) {
	backend := key("shop", "backend-1")
	type pol struct{ ns, name, spec string }
	tests := []struct {
		name     string
		policies []pol
		workload WorkloadKey
		want     *authz.Policy
	}{
		{"no policy allows meshed peers", nil, backend, &authz.Policy{}},
		{"no policy in a default-deny namespace", nil, key("locked", "db-1"), &authz.Policy{DefaultDeny: true}},
		{"a policy selecting nothing else leaves the workload open",
			[]pol{{"shop", "fe", `{selector: {matchLabels: {app: frontend}}, ingress: [{}]}`}}, backend, &authz.Policy{}},
		{"selected with no ingress denies everything",
			[]pol{{"shop", "lock", `{selector: {matchLabels: {app: backend}}}`}}, backend, &authz.Policy{DefaultDeny: true}},
		{"an empty selector selects every pod of the namespace",
			[]pol{{"shop", "all", `{selector: {}, ingress: [{ports: [{port: 80}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/all#0", Ports: ports(80)}}}},
		{"an unset selector selects every pod of the namespace",
			[]pol{{"shop", "all", `{ingress: [{}]}`}}, key("shop", "legacy-1"),
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/all#0"}}}},
		{"a bare ServiceAccount is in the policy's namespace",
			[]pol{{"shop", "p", `{ingress: [{from: [{serviceAccounts: [frontend]}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Principals: []string{sa("shop", "frontend")}}}}},
		{"a qualified ServiceAccount names its namespace",
			[]pol{{"shop", "p", `{ingress: [{from: [{serviceAccounts: [jobs/batch, frontend, jobs/batch]}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Principals: []string{sa("jobs", "batch"), sa("shop", "frontend")}}}}},
		{"ServiceAccounts are kept only in the named namespaces",
			[]pol{{"shop", "p", `{ingress: [{from: [{serviceAccounts: [jobs/batch, frontend], namespaces: [jobs]}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Principals: []string{sa("jobs", "batch")}}}}},
		{"namespaces by name, existing or not",
			[]pol{{"shop", "p", `{ingress: [{from: [{namespaces: [jobs, future]}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Principals: []string{nsAll("future"), nsAll("jobs")}}}}},
		{"namespaces by label",
			[]pol{{"shop", "p", `{ingress: [{from: [{namespaceSelector: {matchLabels: {team: batch}}}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Principals: []string{nsAll("jobs")}}}}},
		{"namespaces by name and label must both match",
			[]pol{{"shop", "p", `{ingress: [{from: [{namespaces: [jobs, shop], namespaceSelector: {matchLabels: {team: shop}}}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Principals: []string{nsAll("shop")}}}}},
		{"pod labels resolve to the ServiceAccounts of the policy's namespace",
			[]pol{{"shop", "p", `{ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Principals: []string{sa("shop", "frontend")}}}}},
		{"pod labels across every namespace",
			[]pol{{"shop", "p", `{ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}, namespaceSelector: {}}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Principals: []string{sa("other", "frontend"), sa("shop", "frontend"), sa("shopx", "frontend")}}}}},
		{"pod labels in named namespaces",
			[]pol{{"shop", "p", `{ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}, namespaces: [other]}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Principals: []string{sa("other", "frontend")}}}}},
		{"pod labels matching no pod allow no one",
			[]pol{{"shop", "p", `{ingress: [{from: [{podSelector: {matchLabels: {app: nothing}}}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true}},
		{"pod labels and ServiceAccounts must both match",
			[]pol{{"shop", "p", `{ingress: [{from: [{podSelector: {matchExpressions: [{key: app, operator: Exists}]}, serviceAccounts: [default]}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Principals: []string{sa("shop", "default")}}}}},
		{"provenance alone admits any meshed peer carrying it",
			[]pol{{"shop", "p", `{ingress: [{from: [{provenance: [release, ci]}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Provenance: []string{"ci", "release"}}}}},
		{"provenance with an identity",
			[]pol{{"shop", "p", `{ingress: [{from: [{serviceAccounts: [frontend], provenance: [ci]}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Principals: []string{sa("shop", "frontend")}, Provenance: []string{"ci"}}}}},
		{"entries with different provenance become rules of one name",
			[]pol{{"shop", "p", `{ingress: [{ports: [{port: 443}], from: [{serviceAccounts: [frontend], provenance: [ci]}, {serviceAccounts: [jobs/batch]}, {namespaces: [other], provenance: [ci]}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{
				{Name: "shop/p#0", Ports: ports(443), Principals: []string{sa("jobs", "batch")}},
				{Name: "shop/p#0", Ports: ports(443), Principals: []string{nsAll("other"), sa("shop", "frontend")}, Provenance: []string{"ci"}},
			}}},
		{"a namespace pattern covers its exact identities",
			[]pol{{"shop", "p", `{ingress: [{from: [{serviceAccounts: [jobs/batch, frontend]}, {namespaces: [jobs]}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Principals: []string{nsAll("jobs"), sa("shop", "frontend")}}}}},
		{"HTTP methods and prefixes, sorted",
			[]pol{{"shop", "p", `{ingress: [{from: [{serviceAccounts: [frontend]}], ports: [{port: 8080}], http: {methods: [POST, GET], pathPrefixes: [/api/v2, /api/v1]}}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Ports: ports(8080), Principals: []string{sa("shop", "frontend")},
				HTTP: &authz.HTTPMatch{Methods: []string{"GET", "POST"}, PathPrefixes: []string{"/api/v1", "/api/v2"}}}}}},
		{"ports and ranges, sorted and merged",
			[]pol{{"shop", "p", `{ingress: [{ports: [{port: 9000, endPort: 9003}, {port: 80}, {port: 9001}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/p#0", Ports: ports(80, 9000, 9001, 9002, 9003)}}}},
		{"permissive",
			[]pol{{"shop", "p", `{mtls: Permissive, ingress: [{}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Permissive: true, Rules: []authz.Rule{{Name: "shop/p#0"}}}},
		{"strict wins over permissive",
			[]pol{{"shop", "a", `{mtls: Permissive, ingress: [{ports: [{port: 80}]}]}`}, {"shop", "b", `{ingress: [{ports: [{port: 81}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/a#0", Ports: ports(80)}, {Name: "shop/b#0", Ports: ports(81)}}}},
		{"rules of every selecting policy in name order, then index",
			[]pol{{"shop", "z", `{ingress: [{ports: [{port: 2}]}, {ports: [{port: 3}]}]}`}, {"shop", "a", `{selector: {matchLabels: {app: backend}}, ingress: [{ports: [{port: 1}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/a#0", Ports: ports(1)}, {Name: "shop/z#0", Ports: ports(2)}, {Name: "shop/z#1", Ports: ports(3)}}}},
		{"a policy in a default-deny namespace",
			[]pol{{"locked", "db", `{ingress: [{from: [{serviceAccounts: [shop/backend]}], ports: [{port: 5432}]}]}`}}, key("locked", "db-1"),
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "locked/db#0", Ports: ports(5432), Principals: []string{sa("shop", "backend")}}}}},
		{"an invalid policy adds no rules and its workloads deny all",
			[]pol{{"shop", "bad", `{selector: {matchLabels: {app: backend}}, ingress: [{ports: [{port: 0}]}]}`}, {"shop", "good", `{ingress: [{ports: [{port: 1}]}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/good#0", Ports: ports(1)}}}},
		{"an invalid selector selects the whole namespace",
			[]pol{{"shop", "bad", `{selector: {matchExpressions: [{key: app, operator: In}]}, ingress: [{}]}`}}, key("shop", "legacy-1"),
			&authz.Policy{DefaultDeny: true}},
		{"an invalid permissive policy is strict",
			[]pol{{"shop", "bad", `{mtls: Permissive, ingress: [{from: [{}]}]}`}, {"shop", "good", `{mtls: Permissive, ingress: [{}]}`}}, backend,
			&authz.Policy{DefaultDeny: true, Rules: []authz.Rule{{Name: "shop/good#0"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps []v1alpha1.AccessPolicy
			for _, p := range tt.policies {
				ps = append(ps, ap(t, p.ns, p.name, p.spec))
			}
			res := compileT(t, testWorld(), ps...)
			if diff := cmp.Diff(tt.want, res.Policies[tt.workload]); diff != "" {
				t.Errorf("policy of %s (-want +got):\n%s", tt.workload, diff)
			}
		})
	}
}

func TestCompileCoversEveryWorkloadAndSharesPolicies(t *testing.T) {
	res := compileT(t, testWorld(), ap(t, "shop", "fe", `{selector: {matchLabels: {app: frontend}}, ingress: [{}]}`))
	if got, want := len(res.Policies), len(testWorld().Workloads); got != want {
		t.Fatalf("%d policies, want one for each of %d workloads", got, want)
	}
	if res.Policies[key("shop", "frontend-1")] != res.Policies[key("shop", "frontend-2")] {
		t.Error("two pods selected by the same policies should share one compiled policy")
	}
	if res.Policies[key("shop", "frontend-1")] == res.Policies[key("shop", "backend-1")] {
		t.Error("differently selected pods share a policy")
	}
}

func TestCompileIsDeterministic(t *testing.T) {
	policies := []v1alpha1.AccessPolicy{
		ap(t, "shop", "b", `{ingress: [{from: [{podSelector: {}, namespaceSelector: {}}, {namespaces: [jobs, other]}]}]}`),
		ap(t, "shop", "a", `{ingress: [{from: [{serviceAccounts: [z, a, jobs/m]}], http: {methods: [PUT, GET]}}]}`),
	}
	first := compileT(t, testWorld(), policies...)
	w := testWorld()
	for i, j := 0, len(w.Workloads)-1; i < j; i, j = i+1, j-1 {
		w.Workloads[i], w.Workloads[j] = w.Workloads[j], w.Workloads[i]
	}
	policies[0], policies[1] = policies[1], policies[0]
	second := compileT(t, w, policies...)
	if changed := Changed(first.Policies, second.Policies); len(changed) != 0 {
		t.Errorf("reordered input changed %v", changed)
	}
	if diff := cmp.Diff(first.Reports, second.Reports); diff != "" {
		t.Errorf("reports (-first +second):\n%s", diff)
	}
}

func TestCompileReports(t *testing.T) {
	res := compileT(t, testWorld(),
		ap(t, "shop", "widened", `{selector: {matchLabels: {app: backend}}, ingress: [{from: [{podSelector: {matchLabels: {app: other}}}, {podSelector: {matchLabels: {app: none}}}, {namespaceSelector: {matchLabels: {team: none}}}]}]}`),
		ap(t, "shop", "bad", `{selector: {matchLabels: {app: backend}}, ingress: [{ports: [{port: 70000}], http: {methods: [FETCH]}}]}`),
		ap(t, "jobs", "fine", `{ingress: [{from: [{podSelector: {matchLabels: {app: batch}}}]}]}`),
	)
	got := map[string]Report{}
	for _, r := range res.Reports {
		got[r.Policy.String()] = r
	}
	if order := []PolicyKey{res.Reports[0].Policy, res.Reports[1].Policy, res.Reports[2].Policy}; order[0].Namespace != "jobs" || order[1].Name != "bad" {
		t.Errorf("reports not sorted by namespace/name: %v", order)
	}
	fine := got["jobs/fine"]
	if !fine.Ready() || len(fine.Warnings) != 0 || fine.Selected != 1 || fine.Message() != "in force on 1 meshed workload(s)" {
		t.Errorf("jobs/fine: %+v %q", fine, fine.Message())
	}
	widened := got["shop/widened"]
	wantWarnings := []string{
		"spec.ingress[0].from[0].podSelector: also admits 1 other pod(s) of ServiceAccount shop/default that it does not match (such as shop/legacy-1)",
		"spec.ingress[0].from[1].podSelector: matches no meshed pod now",
		"spec.ingress[0].from[2]: matches no namespace now",
	}
	if len(widened.Warnings) != len(wantWarnings) {
		t.Fatalf("warnings %q, want %d", widened.Warnings, len(wantWarnings))
	}
	for i, w := range wantWarnings {
		if !strings.HasPrefix(widened.Warnings[i], w) {
			t.Errorf("warning %d = %q, want prefix %q", i, widened.Warnings[i], w)
		}
	}
	bad := got["shop/bad"]
	st := bad.Status()
	for _, want := range []string{"invalid, so none of its rules apply and the 1 workload(s) it selects accept only what other policies allow",
		"spec.ingress[0].ports[0].port: Invalid value: 70000", `spec.ingress[0].http.methods[0]: Unsupported value: "FETCH"`} {
		if !strings.Contains(st.Message, want) {
			t.Errorf("status message lacks %q:\n%s", want, st.Message)
		}
	}
	if st.Ready || bad.Selected != 1 {
		t.Errorf("shop/bad status %+v", st)
	}
}

func TestReportStatusBoundsWarnings(t *testing.T) {
	r := Report{Generation: 3, Warnings: make([]string, 40)}
	st := r.Status()
	if len(st.Warnings) != maxWarnings || st.Warnings[maxWarnings-1] != "and 9 more warnings" || st.ObservedGeneration != 3 || !st.Ready {
		t.Errorf("status %+v", st)
	}
	if len(r.Warnings) != 40 || r.Warnings[maxWarnings-1] != "" {
		t.Error("Status changed the report")
	}
}

func TestCompileNeedsTrustDomain(t *testing.T) {
	if _, err := Compile(World{}, nil); err == nil {
		t.Fatal("compiled without a trust domain")
	}
}

func TestCompileRefusesPolicyWithoutNamespace(t *testing.T) {
	p := ap(t, "shop", "p", `{}`)
	p.Namespace = ""
	res := compileT(t, testWorld(), p)
	if res.Reports[0].Ready() || !strings.Contains(res.Reports[0].Message(), `metadata.namespace: Invalid value: ""`) {
		t.Errorf("report %q", res.Reports[0].Message())
	}
}

// The limits mirrored from authz must not be looser than authz's own.
func TestLimitsAgreeWithAuthz(t *testing.T) {
	big := make([]uint16, MaxPortsPerRule+1)
	for i := range big {
		big[i] = uint16(i + 1)
	}
	if err := (&authz.Policy{Rules: []authz.Rule{{Name: "x", Ports: big[:MaxPortsPerRule]}}}).Validate(); err != nil {
		t.Errorf("%d ports: %v", MaxPortsPerRule, err)
	}
	if err := (&authz.Policy{Rules: []authz.Rule{{Name: "x", Ports: big}}}).Validate(); err == nil {
		t.Errorf("authz accepts %d ports: raise MaxPortsPerRule", len(big))
	}
	principals := make([]string, maxPrincipalsPerRule+1)
	for i := range principals {
		principals[i] = nsAll("n" + strconv.Itoa(i))
	}
	if err := (&authz.Policy{Rules: []authz.Rule{{Name: "x", Principals: principals[:maxPrincipalsPerRule]}}}).Validate(); err != nil {
		t.Errorf("%d principals: %v", maxPrincipalsPerRule, err)
	}
	if err := (&authz.Policy{Rules: []authz.Rule{{Name: "x", Principals: principals}}}).Validate(); err == nil {
		t.Errorf("authz accepts %d principals: raise maxPrincipalsPerRule", len(principals))
	}
}

func TestCompileWidestPortRange(t *testing.T) {
	res := compileT(t, testWorld(), ap(t, "shop", "p", `{ingress: [{ports: [{port: 65409, endPort: 65535}, {port: 1}]}]}`))
	if !res.Reports[0].Ready() {
		t.Fatal(res.Reports[0].Message())
	}
	got := res.Policies[key("shop", "backend-1")].Rules[0].Ports
	if len(got) != MaxPortsPerRule || got[0] != 1 || got[len(got)-1] != 65535 {
		t.Errorf("ports %v", got)
	}
}

func TestCompileSplitsLongPrincipalLists(t *testing.T) {
	w := testWorld()
	for i := range 300 {
		w.Workloads = append(w.Workloads, wl("many", "pod-"+strconv.Itoa(i), "sa-"+strconv.Itoa(i), "tier", "web"))
	}
	res := compileT(t, w, ap(t, "shop", "p", `{ingress: [{from: [{podSelector: {matchLabels: {tier: web}}, namespaces: [many]}]}]}`))
	rules := res.Policies[key("shop", "backend-1")].Rules
	if len(rules) != 2 || len(rules[0].Principals) != maxPrincipalsPerRule || len(rules[1].Principals) != 300-maxPrincipalsPerRule {
		t.Fatalf("%d rules", len(rules))
	}
	if rules[0].Name != "shop/p#0" || rules[1].Name != "shop/p#0" {
		t.Errorf("names %q %q", rules[0].Name, rules[1].Name)
	}
}

func TestCompileFailsClosedOverAuthzRuleLimit(t *testing.T) {
	var ps []v1alpha1.AccessPolicy
	ingress := strings.Repeat(`{ports: [{port: 1}]},`, 64)
	for i := range 17 { // 17 × 64 = 1088 rules
		ps = append(ps, ap(t, "shop", "p"+strconv.Itoa(i), `{ingress: [`+ingress+`]}`))
	}
	res := compileT(t, testWorld(), ps...)
	if diff := cmp.Diff(&authz.Policy{DefaultDeny: true}, res.Policies[key("shop", "backend-1")]); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := res.WorkloadErrors[key("shop", "backend-1")]; !errors.Is(err, ErrTooManyRules) {
		t.Errorf("workload error %v", err)
	}
	if len(res.WorkloadErrors) != 5 {
		t.Errorf("%d workload errors, want the 5 shop pods", len(res.WorkloadErrors))
	}
}
