package install

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// webhook is what the invariants look at in a validating or mutating webhook.
type webhook struct {
	name          string
	failurePolicy *admissionv1.FailurePolicyType
	timeout       *int32
	sideEffects   *admissionv1.SideEffectClass
	selector      []string // values of the NotIn expression on kubernetes.io/metadata.name
	caBundle      []byte
	service       *admissionv1.ServiceReference
}

func webhooks(t *testing.T, r *rendered) []webhook {
	t.Helper()
	var v admissionv1.ValidatingWebhookConfiguration
	var m admissionv1.MutatingWebhookConfiguration
	r.one(t, "ValidatingWebhookConfiguration", "", &v)
	r.one(t, "MutatingWebhookConfiguration", "", &m)
	var out []webhook
	for _, w := range v.Webhooks {
		out = append(out, webhook{w.Name, w.FailurePolicy, w.TimeoutSeconds, w.SideEffects, excluded(w.NamespaceSelector.MatchExpressions), w.ClientConfig.CABundle, w.ClientConfig.Service})
	}
	for _, w := range m.Webhooks {
		out = append(out, webhook{w.Name, w.FailurePolicy, w.TimeoutSeconds, w.SideEffects, excluded(w.NamespaceSelector.MatchExpressions), w.ClientConfig.CABundle, w.ClientConfig.Service})
	}
	return out
}

func excluded(exprs []metav1.LabelSelectorRequirement) []string {
	for _, e := range exprs {
		if e.Key == "kubernetes.io/metadata.name" && e.Operator == "NotIn" {
			return e.Values
		}
	}
	return nil
}

// TestWebhooksNeverLockTheCluster checks invariant 6 on the rendered chart: every webhook
// excludes kube-system and its own namespace, states its failure policy, answers within 5
// seconds, and leaves caBundle to the controller.
func TestWebhooksNeverLockTheCluster(t *testing.T) {
	for _, ns := range []string{"outrider-system", "security"} {
		t.Run(ns, func(t *testing.T) {
			hooks := webhooks(t, render(t, Options{Namespace: ns}))
			var names []string
			for _, w := range hooks {
				names = append(names, w.name)
				if !slices.Contains(w.selector, "kube-system") || !slices.Contains(w.selector, ns) {
					t.Errorf("%s: namespaceSelector excludes %v, want kube-system and %s", w.name, w.selector, ns)
				}
				if w.failurePolicy == nil {
					t.Errorf("%s: no explicit failurePolicy", w.name)
				}
				if w.timeout == nil || *w.timeout > 5 || *w.timeout < 1 {
					t.Errorf("%s: timeoutSeconds %v, want 1..5", w.name, w.timeout)
				}
				if w.sideEffects == nil {
					t.Errorf("%s: no sideEffects", w.name)
				}
				if len(w.caBundle) != 0 {
					t.Errorf("%s: caBundle is set; the controller owns it", w.name)
				}
				if w.service == nil || w.service.Name != "outrider-webhook" || w.service.Namespace != ns ||
					w.service.Port == nil || *w.service.Port != 443 {
					t.Errorf("%s: service %+v, want outrider-webhook.%s:443", w.name, w.service, ns)
				}
			}
			want := []string{"workloads.validate.outrider.dev", "connect.validate.outrider.dev", "policies.validate.outrider.dev", "accesspolicies.validate.outrider.dev", "workloads.mutate.outrider.dev"}
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("webhooks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWebhookRules(t *testing.T) {
	r := render(t, Options{})
	var v admissionv1.ValidatingWebhookConfiguration
	var m admissionv1.MutatingWebhookConfiguration
	r.one(t, "ValidatingWebhookConfiguration", "outrider-validating", &v)
	r.one(t, "MutatingWebhookConfiguration", "outrider-mutating", &m)
	resources := func(rules []admissionv1.RuleWithOperations) (out []string) {
		for _, r := range rules {
			for _, res := range r.Resources {
				out = append(out, strings.Join(r.APIGroups, ",")+"/"+res+" "+opsString(r.Operations))
			}
		}
		return out
	}
	workloads := []string{"/pods CREATE,UPDATE", "/pods/ephemeralcontainers CREATE,UPDATE", "/replicationcontrollers CREATE,UPDATE",
		"/podtemplates CREATE,UPDATE", "apps/deployments CREATE,UPDATE", "apps/replicasets CREATE,UPDATE",
		"apps/statefulsets CREATE,UPDATE", "apps/daemonsets CREATE,UPDATE", "batch/jobs CREATE,UPDATE", "batch/cronjobs CREATE,UPDATE"}
	if diff := cmp.Diff(workloads, resources(v.Webhooks[0].Rules)); diff != "" {
		t.Errorf("workloads rules (-want +got):\n%s", diff)
	}
	connect := []string{"/pods/exec CONNECT", "/pods/attach CONNECT", "/pods/portforward CONNECT"}
	if diff := cmp.Diff(connect, resources(v.Webhooks[1].Rules)); diff != "" {
		t.Errorf("connect rules (-want +got):\n%s", diff)
	}
	// The mutating webhook pins images in the same requests, ephemeral containers included.
	if diff := cmp.Diff(workloads, resources(m.Webhooks[0].Rules)); diff != "" {
		t.Errorf("mutating rules (-want +got):\n%s", diff)
	}
	paths := []string{*v.Webhooks[0].ClientConfig.Service.Path, *v.Webhooks[1].ClientConfig.Service.Path, *m.Webhooks[0].ClientConfig.Service.Path}
	if diff := cmp.Diff([]string{"/validate/workloads", "/validate/connect", "/mutate/workloads"}, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	got := []string{string(*v.Webhooks[0].FailurePolicy), string(*v.Webhooks[1].FailurePolicy), string(*m.Webhooks[0].FailurePolicy),
		string(*v.Webhooks[0].SideEffects), string(*v.Webhooks[1].SideEffects), string(*m.Webhooks[0].ReinvocationPolicy),
		string(*v.Webhooks[0].MatchPolicy)}
	want := []string{"Fail", "Fail", "Fail", "NoneOnDryRun", "None", "IfNeeded", "Equivalent"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
}

func opsString(ops []admissionv1.OperationType) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ",")
}

func TestControllerDeployment(t *testing.T) {
	r := render(t, Options{})
	var d appsv1.Deployment
	r.one(t, "Deployment", "outrider-controller", &d)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	var pdb policyv1.PodDisruptionBudget
	r.one(t, "PodDisruptionBudget", "", &pdb)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PDB minAvailable %v, want 1", pdb.Spec.MinAvailable)
	}
	if diff := cmp.Diff(d.Spec.Selector.MatchLabels, pdb.Spec.Selector.MatchLabels); diff != "" {
		t.Errorf("PDB selector differs from the Deployment's (-deploy +pdb):\n%s", diff)
	}
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	wantArgs := []string{"controller", "--namespace=$(POD_NAMESPACE)", "--webhook-port=9443", "--metrics-addr=:8080",
		"--health-addr=:8081", "--cert-secret=outrider-webhook-cert", "--service-name=outrider-webhook",
		"--validating-webhook=outrider-validating", "--mutating-webhook=outrider-mutating", "--fail-on=high",
		"--exec-exempt-groups=", "--audit-interval=5m", "--registry-timeout=2s", "--registry-hosts=", "--registry-mirrors=",
		"--image-cache-ttl=5m", "--image-negative-cache-ttl=10s", "--read-pull-secrets=true",
		"--leader-elect=true", "--log-format=json", "--log-level=info"}
	if diff := cmp.Diff(wantArgs, c.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/outrider"}, c.Command); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	if c.Image != "127.0.0.1:5000/outrider:dev" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %s (%s)", c.Image, c.ImagePullPolicy)
	}
	if c.Env[0].Name != "POD_NAMESPACE" || c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("env %+v, want POD_NAMESPACE from metadata.namespace", c.Env)
	}
	if p := c.ReadinessProbe.HTTPGet; p.Path != "/readyz" || p.Port.String() != "health" {
		t.Errorf("readiness probe %+v", p)
	}
	if p := c.LivenessProbe.HTTPGet; p.Path != "/healthz" || p.Port.String() != "health" {
		t.Errorf("liveness probe %+v", p)
	}
	if pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken is not explicitly true")
	}
	if a := pod.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution; len(a) != 1 ||
		a[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("anti-affinity %+v, want preferred by hostname", a)
	}
	if pod.Volumes[0].EmptyDir == nil || c.VolumeMounts[0].MountPath != "/tmp" {
		t.Error("no emptyDir at /tmp")
	}
}

func TestServices(t *testing.T) {
	r := render(t, Options{})
	for _, tt := range []struct {
		name       string
		port, back int
	}{{"outrider-webhook", 443, 9443}, {"outrider-metrics", 8080, 8080}} {
		var s corev1.Service
		r.one(t, "Service", tt.name, &s)
		if p := s.Spec.Ports[0]; int(p.Port) != tt.port || p.TargetPort.IntValue() != tt.back {
			t.Errorf("%s: port %d → %s, want %d → %d", tt.name, p.Port, p.TargetPort.String(), tt.port, tt.back)
		}
	}
}

// TestRBACLeastPrivilege: no wildcard anywhere, and writes to shared objects are limited to
// the chart's own names.
func TestRBACLeastPrivilege(t *testing.T) {
	r := render(t, Options{})
	var cr rbacv1.ClusterRole
	var role rbacv1.Role
	r.one(t, "ClusterRole", "", &cr)
	r.one(t, "Role", "", &role)
	all := append(slices.Clone(cr.Rules), role.Rules...)
	for _, rule := range all {
		for _, s := range slices.Concat(rule.Verbs, rule.Resources, rule.APIGroups, rule.ResourceNames) {
			if strings.Contains(s, "*") {
				t.Errorf("wildcard %q in rule %+v", s, rule)
			}
		}
	}
	named := func(rules []rbacv1.PolicyRule, resource, verb string) (names []string, unrestricted bool) {
		for _, rule := range rules {
			if slices.Contains(rule.Resources, resource) && slices.Contains(rule.Verbs, verb) {
				if len(rule.ResourceNames) == 0 {
					unrestricted = true
				}
				names = append(names, rule.ResourceNames...)
			}
		}
		return names, unrestricted
	}
	for _, tt := range []struct {
		rules    []rbacv1.PolicyRule
		resource string
		verbs    []string
		want     []string
	}{
		{cr.Rules, "validatingwebhookconfigurations", []string{"update", "patch"}, []string{"outrider-validating"}},
		{cr.Rules, "mutatingwebhookconfigurations", []string{"update", "patch"}, []string{"outrider-mutating"}},
		{cr.Rules, "customresourcedefinitions", []string{"get"}, []string{"policyreports.wgpolicyk8s.io", "clusterpolicyreports.wgpolicyk8s.io"}},
		{role.Rules, "secrets", []string{"get", "update", "patch"}, []string{"outrider-webhook-cert"}},
		{role.Rules, "leases", []string{"get", "update"}, []string{"outrider-controller"}},
	} {
		for _, verb := range tt.verbs {
			names, unrestricted := named(tt.rules, tt.resource, verb)
			if unrestricted || !cmp.Equal(names, tt.want) {
				t.Errorf("%s %s: resourceNames %v (unrestricted: %v), want only %v", verb, tt.resource, names, unrestricted, tt.want)
			}
		}
	}
	if names, _ := named(cr.Rules, "secrets", "get"); names != nil {
		t.Error("the ClusterRole grants access to Secrets")
	}
	if _, any := named(cr.Rules, "customresourcedefinitions", "update"); any {
		t.Error("the ClusterRole may update CRDs")
	}
}

func TestRenderOverrides(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(file, []byte("replicas: 4\nadmission:\n  excludeNamespaces: [istio-system]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("failure policy", func(t *testing.T) {
		r := render(t, Options{Set: []string{"admission.failurePolicy=Ignore"}})
		var v admissionv1.ValidatingWebhookConfiguration
		r.one(t, "ValidatingWebhookConfiguration", "", &v)
		if got := *v.Webhooks[0].FailurePolicy; got != admissionv1.Ignore {
			t.Errorf("workloads failurePolicy %s, want Ignore", got)
		}
		if got := *v.Webhooks[1].FailurePolicy; got != admissionv1.Fail {
			t.Errorf("connect failurePolicy %s, want Fail (set separately)", got)
		}
	})
	t.Run("values file then --set", func(t *testing.T) {
		r := render(t, Options{ValueFiles: []string{file}, Set: []string{"replicas=3", "admission.timeoutSeconds=2"}})
		var d appsv1.Deployment
		r.one(t, "Deployment", "", &d)
		if *d.Spec.Replicas != 3 {
			t.Errorf("replicas %d, want 3 (--set wins over -f)", *d.Spec.Replicas)
		}
		for _, w := range webhooks(t, r) {
			if !slices.Contains(w.selector, "istio-system") || !slices.Contains(w.selector, "kube-system") {
				t.Errorf("%s: excludes %v, want istio-system added to the defaults", w.name, w.selector)
			}
			if *w.timeout != 2 {
				t.Errorf("%s: timeout %d, want 2", w.name, *w.timeout)
			}
		}
	})
	t.Run("one replica has no PDB", func(t *testing.T) {
		if n := len(render(t, Options{Set: []string{"replicas=1"}}).all("PodDisruptionBudget")); n != 0 {
			t.Errorf("%d PodDisruptionBudgets for one replica, want 0", n)
		}
	})
	t.Run("no default policy", func(t *testing.T) {
		if n := len(render(t, Options{Set: []string{"defaultPolicy.enabled=false"}}).all("ClusterSecurityPolicy")); n != 0 {
			t.Errorf("%d ClusterSecurityPolicies, want 0", n)
		}
	})
	t.Run("exec exempt groups", func(t *testing.T) {
		r := render(t, Options{Set: []string{"admission.execExemptGroups={sre,break-glass}"}})
		var d appsv1.Deployment
		r.one(t, "Deployment", "", &d)
		if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--exec-exempt-groups=sre,break-glass") {
			t.Errorf("args %v", d.Spec.Template.Spec.Containers[0].Args)
		}
	})
}

func TestRenderRefusesUnsafeValues(t *testing.T) {
	for _, tt := range []struct {
		set  string
		want string
	}{
		{"admission.timeoutSeconds=10", "admission.timeoutSeconds must be a whole number of seconds from 1 to 5"},
		{"admission.timeoutSeconds=0", "admission.timeoutSeconds must be a whole number of seconds from 1 to 5"},
		{"admission.timeoutSeconds=2.5", "admission.timeoutSeconds must be a whole number of seconds from 1 to 5"},
		{"admission.timeoutSeconds=soon", "admission.timeoutSeconds must be a whole number of seconds from 1 to 5"},
		{"admission.failurePolicy=Sometimes", "admission.failurePolicy must be Fail or Ignore"},
		{"mutation.failurePolicy=fail", "mutation.failurePolicy must be Fail or Ignore"},
		{"admission.failOn=urgent", "admission.failOn must be"},
		{"defaultPolicy.mode=Block", "defaultPolicy.mode must be"},
		{"defaultPolicy.level=strict", "defaultPolicy.level must be"},
		{"replicas=0", "replicas must be at least 1"},
		{"a.b[x]=1", "--set"},
	} {
		t.Run(tt.set, func(t *testing.T) {
			_, err := Render(Options{Set: []string{tt.set}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRenderRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{{Namespace: "Not_A_Namespace"}, {ReleaseName: "UPPER"}, {ValueFiles: []string{"/nonexistent/values.yaml"}}} {
		if _, err := Render(o); err == nil {
			t.Errorf("Render(%+v) succeeded", o)
		}
	}
}

func TestMeshArgsNeedTheIdentityService(t *testing.T) {
	r := render(t, Options{Set: []string{"mesh.enabled=true", "identity.enabled=true", "mesh.optOutGroups={mesh-admins}",
		"imageTrust.readPullSecrets=false", "imageTrust.pullSecretNamespaces={shop}"}})
	var d appsv1.Deployment
	r.one(t, "Deployment", "outrider-controller", &d)
	args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
	for _, want := range []string{"--mesh ", "--mesh-image=127.0.0.1:5000/outrider:dev", "--mesh-identity-service=outrider-identity",
		"--mesh-identity-id=spiffe://cluster.local/ns/outrider-system/sa/outrider-identity", "--mesh-opt-out-groups=mesh-admins"} {
		if !strings.Contains(args+" ", want) {
			t.Errorf("controller args lack %q:\n%s", want, args)
		}
	}
	if _, err := Render(Options{Set: []string{"mesh.enabled=true"}}); err == nil || !strings.Contains(err.Error(), "mesh.enabled needs identity.enabled") {
		t.Errorf("mesh without identity rendered: %v", err)
	}
	if !strings.Contains(args, "--read-pull-secrets=true") {
		t.Errorf("pull secrets in listed namespaces are not read: %s", args)
	}
	var role rbacv1.Role
	r.one(t, "Role", "outrider-pull-secrets", &role)
	if role.Namespace != "shop" {
		t.Errorf("pull-secret Role in %q, want shop", role.Namespace)
	}
}

// The identity CA's key must be readable by the identity service alone: the controller's
// cluster-wide Secret access cannot be combined with it.
func TestControllerCannotReadTheIdentityCA(t *testing.T) {
	_, err := Render(Options{Set: []string{"identity.enabled=true"}})
	if err == nil || !strings.Contains(err.Error(), "imageTrust.readPullSecrets grants get on every Secret") {
		t.Fatalf("identity with cluster-wide Secret reads rendered: %v", err)
	}
}
