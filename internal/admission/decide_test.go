package admission

import (
	"context"
	"errors"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/outrider-sec/outrider/internal/policy"
)

type fakeNamespaces map[string]map[string]string

func (f fakeNamespaces) NamespaceLabels(_ context.Context, name string) (map[string]string, error) {
	if l, ok := f[name]; ok {
		return l, nil
	}
	return nil, errors.New("not found")
}

func engineOf(t *testing.T, specs ...string) EngineSource {
	t.Helper()
	var ps []*policy.Policy
	for i, s := range specs {
		data := "apiVersion: security.outrider.dev/v1alpha1\nkind: ClusterSecurityPolicy\nmetadata: {name: p" + string(rune('0'+i)) + "}\nspec: " + s + "\n"
		p, err := policy.ParsePolicies("test", []byte(data), "default")
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p...)
	}
	e := policy.NewEngine(ps, nil)
	return func() *policy.Engine { return e }
}

func request(t *testing.T, op admissionv1.Operation, manifest, old string) *admissionv1.AdmissionRequest {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{Operation: op, Namespace: "shop", Name: "w",
		Kind: metav1.GroupVersionKind{Kind: "Deployment"}, Object: runtime.RawExtension{Raw: js}}
	if old != "" {
		oj, _ := yaml.YAMLToJSON([]byte(old))
		req.OldObject = runtime.RawExtension{Raw: oj}
	}
	return req
}

const privDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: w, labels: {v: "%s"}}
spec:
  template:
    spec:
      containers: [{name: c, image: "registry.example.com/c:1", securityContext: {privileged: true}}]
`

func TestWorkloadDeciderRefusesWithCheckAndFix(t *testing.T) {
	d := &WorkloadDecider{Engines: engineOf(t, "{podSecurity: {level: baseline}}"), Namespaces: fakeNamespaces{"shop": nil}, FailOn: policy.SeverityHigh}
	dec, err := d.Decide(context.Background(), request(t, admissionv1.Create, privDeployment, ""))
	if err != nil {
		t.Fatal(err)
	}
	if dec.Allowed {
		t.Fatal("privileged Deployment admitted")
	}
	for _, want := range []string{"outrider refused Deployment shop/w", "[pss.privileged]", "spec.template.spec.containers[0].securityContext.privileged", "fix: Remove securityContext.privileged"} {
		if !strings.Contains(dec.Message, want) {
			t.Errorf("message lacks %q:\n%s", want, dec.Message)
		}
	}
}

func TestWorkloadDeciderWarnModeAdmitsWithWarnings(t *testing.T) {
	d := &WorkloadDecider{Engines: engineOf(t, "{mode: Warn, podSecurity: {level: baseline}}"), Namespaces: fakeNamespaces{"shop": nil}, FailOn: policy.SeverityHigh}
	dec, err := d.Decide(context.Background(), request(t, admissionv1.Create, privDeployment, ""))
	if err != nil {
		t.Fatal(err)
	}
	if !dec.Allowed || !strings.Contains(strings.Join(dec.Warnings, "\n"), "[pss.privileged] critical") {
		t.Fatalf("got %+v", dec)
	}
}

// An UPDATE that does not add a violation passes, so a workload admitted before the policy can
// still be relabelled, scaled or finalized; one that adds a violation is refused.
func TestWorkloadDeciderUpdateRefusesOnlyNewViolations(t *testing.T) {
	d := &WorkloadDecider{Engines: engineOf(t, "{podSecurity: {level: baseline}}"), Namespaces: fakeNamespaces{"shop": nil}, FailOn: policy.SeverityHigh}
	old := strings.Replace(privDeployment, "%s", "1", 1)
	newer := strings.Replace(privDeployment, "%s", "2", 1)
	dec, err := d.Decide(context.Background(), request(t, admissionv1.Update, newer, old))
	if err != nil {
		t.Fatal(err)
	}
	if !dec.Allowed || !strings.Contains(dec.Warnings[0], "[pss.privileged]") || !strings.Contains(dec.Warnings[0], "already present") {
		t.Fatalf("relabel of an existing violator: %+v", dec)
	}
	clean := strings.Replace(strings.Replace(privDeployment, "%s", "1", 1), "privileged: true", "privileged: false", 1)
	dec, err = d.Decide(context.Background(), request(t, admissionv1.Update, newer, clean))
	if err != nil {
		t.Fatal(err)
	}
	if dec.Allowed {
		t.Fatal("an UPDATE that makes a workload privileged was admitted")
	}
}

// The attack: a workload admitted before the policy keeps its old violation as a warning on
// UPDATE; swapping its disallowed image for another disallowed one must not ride on that.
func TestUpdateCannotSwapInAnotherForbiddenImageUnderAnOldViolation(t *testing.T) {
	d := &WorkloadDecider{Engines: engineOf(t, "{podSecurity: {level: privileged}, images: {allowedRegistries: [ghcr.io/acme]}}"),
		Namespaces: fakeNamespaces{"shop": nil}, FailOn: policy.SeverityHigh}
	old := strings.Replace(privDeployment, "%s", "1", 1)
	relabelled := strings.Replace(privDeployment, "%s", "2", 1)
	dec, err := d.Decide(context.Background(), request(t, admissionv1.Update, relabelled, old))
	if err != nil || !dec.Allowed {
		t.Fatalf("relabelling a workload admitted before the policy: %+v, %v", dec, err)
	}
	swapped := strings.Replace(relabelled, "registry.example.com/c:1", "evil.example/miner:1", 1)
	dec, err = d.Decide(context.Background(), request(t, admissionv1.Update, swapped, old))
	if err != nil {
		t.Fatal(err)
	}
	if dec.Allowed || !strings.Contains(dec.Message, "evil.example/miner:1") {
		t.Fatalf("an UPDATE swapping in another forbidden image was admitted: %+v", dec)
	}
}

func TestWorkloadDeciderNotReadyAndBadInput(t *testing.T) {
	d := &WorkloadDecider{Engines: func() *policy.Engine { return nil }, Namespaces: fakeNamespaces{}}
	if _, err := d.Decide(context.Background(), request(t, admissionv1.Create, privDeployment, "")); !errors.Is(err, ErrNotReady) {
		t.Errorf("err = %v, want ErrNotReady", err)
	}
	d = &WorkloadDecider{Engines: engineOf(t, "{}"), Namespaces: fakeNamespaces{}}
	req := &admissionv1.AdmissionRequest{Operation: admissionv1.Create, Namespace: "shop", Object: runtime.RawExtension{Raw: []byte(`{"kind":`)}}
	if _, err := d.Decide(context.Background(), req); err == nil {
		t.Error("garbage admitted without an error")
	}
	if _, err := d.Decide(context.Background(), request(t, admissionv1.Create, privDeployment, "")); err == nil {
		t.Error("unknown namespace: want an error")
	}
}

type fakePods map[string]*corev1.Pod

func (f fakePods) Pod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	if p, ok := f[ns+"/"+name]; ok {
		return p, nil
	}
	return nil, errors.New("pods \"" + name + "\" not found")
}

// The old DenyEscalatingExec: a session in a privileged or host-namespace pod is refused.
func TestExecIntoPrivilegedPodIsRefused(t *testing.T) {
	yes := true
	pods := fakePods{
		"shop/plain":   {Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}},
		"shop/priv":    {Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}},
		"shop/hostpid": {Spec: corev1.PodSpec{HostPID: true, Containers: []corev1.Container{{Name: "c"}}}},
		"shop/privdebug": {Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "d", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}}},
	}
	d := &ConnectDecider{Pods: pods, ExemptGroups: []string{"node-operators"}}
	tests := []struct {
		pod, sub string
		groups   []string
		allowed  bool
		wantErr  bool
	}{
		{"plain", "exec", nil, true, false},
		{"priv", "exec", nil, false, false},
		{"priv", "attach", nil, false, false},
		{"hostpid", "portforward", nil, false, false},
		{"privdebug", "exec", nil, false, false},
		{"priv", "exec", []string{"system:authenticated", "node-operators"}, true, false},
		{"missing", "exec", nil, false, true},
	}
	for _, tt := range tests {
		req := &admissionv1.AdmissionRequest{Operation: admissionv1.Connect, Namespace: "shop", Name: tt.pod, SubResource: tt.sub,
			UserInfo: authnv1.UserInfo{Username: "dev", Groups: tt.groups}}
		dec, err := d.Decide(context.Background(), req)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s %s: err = %v", tt.sub, tt.pod, err)
			continue
		}
		if err == nil && dec.Allowed != tt.allowed {
			t.Errorf("%s %s groups %v: allowed = %v, want %v (%s)", tt.sub, tt.pod, tt.groups, dec.Allowed, tt.allowed, dec.Message)
		}
	}
}

func TestPolicyDeciderRefusesPoliciesThatDoNotCompile(t *testing.T) {
	tests := []struct {
		kind, spec string
		allowed    bool
		want       string
	}{
		{"ClusterSecurityPolicy", `{mode: Enforce, podSecurity: {level: baseline}}`, true, ""},
		{"SecurityPolicy", `{rules: [{id: r, expression: "object.spec.", message: m}]}`, false, "spec.rules[0].expression"},
		{"ClusterSecurityPolicy", `{checks: [{id: no.such}]}`, false, `spec.checks[0].id: Invalid value: "no.such"`},
	}
	for _, tt := range tests {
		js, _ := yaml.YAMLToJSON([]byte("apiVersion: security.outrider.dev/v1alpha1\nkind: " + tt.kind + "\nmetadata: {name: p}\nspec: " + tt.spec + "\n"))
		dec, err := PolicyDecider{}.Decide(context.Background(), &admissionv1.AdmissionRequest{Name: "p", Namespace: "shop",
			Kind: metav1.GroupVersionKind{Group: "security.outrider.dev", Version: "v1alpha1", Kind: tt.kind}, Object: runtime.RawExtension{Raw: js}})
		if err != nil {
			t.Fatal(err)
		}
		if dec.Allowed != tt.allowed || !strings.Contains(dec.Message, tt.want) {
			t.Errorf("%s %s: allowed=%v message=%q", tt.kind, tt.spec, dec.Allowed, dec.Message)
		}
	}
}
