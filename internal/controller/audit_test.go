package controller

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/outrider-sec/outrider/internal/policy"
)

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := AddAuditScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func newFakeClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	return fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(objs...).Build()
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func defaultEngine(t *testing.T) *policy.Engine {
	t.Helper()
	p, err := policy.DefaultPolicy()
	if err != nil {
		t.Fatal(err)
	}
	return policy.NewEngine([]*policy.Policy{p}, nil)
}

// compliantSpec meets Pod Security Standards restricted and every default-on check.
func compliantSpec() corev1.PodSpec {
	return corev1.PodSpec{
		AutomountServiceAccountToken: ptr.To(false),
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](10001),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Containers: []corev1.Container{{
			Name: "app", Image: "registry.example.com/app:1.0",
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
			},
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
		}},
	}
}

func privilegedSpec() corev1.PodSpec {
	s := compliantSpec()
	s.Containers[0].SecurityContext.Privileged = ptr.To(true)
	return s
}

func objMeta(ns, name, uid string, owner ...metav1.OwnerReference) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid), OwnerReferences: owner}
}

func controlledBy(apiVersion, kind, name, uid string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid), Controller: ptr.To(true)}
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/metadata.name": name}}}
}

// auditCluster seeds namespaces apps, web, empty, outrider (excluded) and kube-system, a
// privileged Deployment with its ReplicaSet and Pod, a CronJob with its Job, a compliant bare
// Pod, privileged pods in the excluded namespaces, and a stale report.
func auditCluster() []client.Object {
	tmpl := func(spec corev1.PodSpec) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}, Spec: spec}
	}
	stale := &unstructured.Unstructured{}
	stale.SetGroupVersionKind(policyReportGVK)
	stale.SetNamespace("empty")
	stale.SetName(AuditReportName)
	stale.SetLabels(map[string]string{managedByLabel: managedByValue})
	other := stale.DeepCopy()
	other.SetName("kyverno-report")
	other.SetLabels(map[string]string{managedByLabel: "kyverno"})
	return []client.Object{
		namespace("apps"), namespace("web"), namespace("empty"), namespace("outrider"), namespace("kube-system"),
		&appsv1.Deployment{ObjectMeta: objMeta("apps", "priv", "d1"), Spec: appsv1.DeploymentSpec{Template: tmpl(privilegedSpec())}},
		&appsv1.ReplicaSet{ObjectMeta: objMeta("apps", "priv-7d9", "rs1", controlledBy("apps/v1", "Deployment", "priv", "d1")),
			Spec: appsv1.ReplicaSetSpec{Template: tmpl(privilegedSpec())}},
		&corev1.Pod{ObjectMeta: objMeta("apps", "priv-7d9-abc", "p1", controlledBy("apps/v1", "ReplicaSet", "priv-7d9", "rs1")), Spec: privilegedSpec()},
		&batchv1.CronJob{ObjectMeta: objMeta("apps", "nightly", "cj1"), Spec: batchv1.CronJobSpec{Schedule: "@daily",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl(compliantSpec())}}}},
		&batchv1.Job{ObjectMeta: objMeta("apps", "nightly-1", "j1", controlledBy("batch/v1", "CronJob", "nightly", "cj1")),
			Spec: batchv1.JobSpec{Template: tmpl(compliantSpec())}},
		&corev1.Pod{ObjectMeta: objMeta("web", "good", "p2"), Spec: compliantSpec()},
		&corev1.Pod{ObjectMeta: objMeta("kube-system", "etcd", "p3"), Spec: privilegedSpec()},
		&corev1.Pod{ObjectMeta: objMeta("outrider", "self", "p4"), Spec: privilegedSpec()},
		stale, other,
	}
}

func newTestAuditor(t *testing.T, c client.Client) *Auditor {
	t.Helper()
	return &Auditor{Reader: c, Writer: c, Log: discardLog(), Metrics: NewAuditMetrics(prometheus.NewRegistry()),
		ExcludeNamespaces: []string{"outrider"},
		now:               func() time.Time { return time.Unix(1_800_000_000, 0) }}
}

func getReport(t *testing.T, c client.Reader, ns string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(policyReportGVK)
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: AuditReportName}, u); err != nil {
		t.Fatalf("report in %s: %v", ns, err)
	}
	return u
}

// resultsFor returns the results about one resource as result/rule pairs.
func resultsFor(t *testing.T, report *unstructured.Unstructured, kind, name string) []string {
	t.Helper()
	results, _, err := unstructured.NestedSlice(report.Object, "results")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range results {
		m := r.(map[string]any)
		res := m["resources"].([]any)[0].(map[string]any)
		if res["kind"] == kind && res["name"] == name {
			out = append(out, m["result"].(string)+"/"+m["rule"].(string))
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestAuditWritesOneReportPerNamespace(t *testing.T) {
	ctx := context.Background()
	c := newFakeClient(t, auditCluster()...)
	a := newTestAuditor(t, c)
	if err := a.audit(ctx, defaultEngine(t)); err != nil {
		t.Fatal(err)
	}

	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(policyReportListGVK)
	if err := c.List(ctx, list, client.MatchingLabels{managedByLabel: managedByValue}); err != nil {
		t.Fatal(err)
	}
	var namespaces []string
	for _, r := range list.Items {
		namespaces = append(namespaces, r.GetNamespace())
	}
	if len(namespaces) != 2 || !contains(namespaces, "apps") || !contains(namespaces, "web") {
		t.Fatalf("reports in %v, want apps and web (not kube-system, outrider, or the stale one in empty)", namespaces)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "empty", Name: "kyverno-report"}, &unstructured.Unstructured{
		Object: map[string]any{"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport"}}); err != nil {
		t.Errorf("another tool's report was touched: %v", err)
	}

	apps := getReport(t, c, "apps")
	dep := resultsFor(t, apps, "Deployment", "priv")
	if !contains(dep, "fail/pss.privileged") || contains(dep, "pass/all-checks") {
		t.Errorf("Deployment results = %v, want fail/pss.privileged and no pass", dep)
	}
	for _, child := range [][2]string{{"ReplicaSet", "priv-7d9"}, {"Pod", "priv-7d9-abc"}, {"Job", "nightly-1"}} {
		if got := resultsFor(t, apps, child[0], child[1]); len(got) != 0 {
			t.Errorf("%s %s reported separately: %v", child[0], child[1], got)
		}
	}
	if got := resultsFor(t, apps, "CronJob", "nightly"); len(got) != 1 || got[0] != "pass/all-checks" {
		t.Errorf("CronJob results = %v, want one pass", got)
	}
	web := getReport(t, c, "web")
	if got := resultsFor(t, web, "Pod", "good"); len(got) != 1 || got[0] != "pass/all-checks" {
		t.Errorf("compliant Pod results = %v, want one pass", got)
	}
	assertSummary(t, apps)
	assertSummary(t, web)
	appsFail, _, _ := unstructured.NestedInt64(apps.Object, "summary", "fail")
	if got := findingsGauge(a.Metrics, resultFail); appsFail == 0 || got != float64(appsFail) {
		t.Errorf("outrider_audit_findings{result=fail} sums to %v, want summary.fail of apps (%d)", got, appsFail)
	}
	if got := testutil.ToFloat64(a.Metrics.Runs); got != 1 {
		t.Errorf("runs = %v, want 1", got)
	}
}

// findingsGauge sums outrider_audit_findings over severities.
func findingsGauge(m *AuditMetrics, result string) float64 {
	var sum float64
	for _, sev := range policy.Severities {
		sum += testutil.ToFloat64(m.Findings.WithLabelValues(string(sev), result))
	}
	return sum
}

// assertSummary checks that the summary counts the results.
func assertSummary(t *testing.T, report *unstructured.Unstructured) {
	t.Helper()
	results, _, _ := unstructured.NestedSlice(report.Object, "results")
	want := map[string]int64{}
	for _, r := range results {
		want[r.(map[string]any)["result"].(string)]++
	}
	var total int64
	for _, k := range []string{resultPass, resultFail, resultWarn, resultError, resultSkip} {
		got, _, _ := unstructured.NestedInt64(report.Object, "summary", k)
		if got != want[k] {
			t.Errorf("%s: summary.%s = %d, want %d", report.GetNamespace(), k, got, want[k])
		}
		total += got
	}
	if total != int64(len(results)) {
		t.Errorf("%s: summary adds up to %d, want %d results", report.GetNamespace(), total, len(results))
	}
}

func TestAuditSkipsUnchangedReportsAndSeesFixes(t *testing.T) {
	ctx := context.Background()
	c := newFakeClient(t, auditCluster()...)
	a := newTestAuditor(t, c)
	engine := defaultEngine(t)
	if err := a.audit(ctx, engine); err != nil {
		t.Fatal(err)
	}
	before := getReport(t, c, "apps").GetResourceVersion()

	a.now = func() time.Time { return time.Unix(1_800_000_600, 0) } // only timestamps would change
	if err := a.audit(ctx, engine); err != nil {
		t.Fatal(err)
	}
	if after := getReport(t, c, "apps").GetResourceVersion(); after != before {
		t.Errorf("unchanged audit rewrote the report: resourceVersion %s -> %s", before, after)
	}

	var dep appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "priv"}, &dep); err != nil {
		t.Fatal(err)
	}
	dep.Spec.Template.Spec = compliantSpec()
	if err := c.Update(ctx, &dep); err != nil {
		t.Fatal(err)
	}
	if err := a.audit(ctx, engine); err != nil {
		t.Fatal(err)
	}
	apps := getReport(t, c, "apps")
	if got := resultsFor(t, apps, "Deployment", "priv"); len(got) != 1 || got[0] != "pass/all-checks" {
		t.Errorf("fixed Deployment results = %v, want one pass", got)
	}
	if fail, _, _ := unstructured.NestedInt64(apps.Object, "summary", "fail"); fail != 0 {
		t.Errorf("summary.fail = %d after the fix, want 0", fail)
	}
	if got := findingsGauge(a.Metrics, resultFail); got != 0 {
		t.Errorf("findings gauge = %v after the fix, want 0", got)
	}
}

func TestStartAuditsOnceEngineAndCRDsAreReady(t *testing.T) {
	c := newFakeClient(t, namespace("web"), &corev1.Pod{ObjectMeta: objMeta("web", "good", "p2"), Spec: compliantSpec()})
	a := newTestAuditor(t, c)
	a.Interval = time.Hour
	a.established = func(context.Context, string) error { return nil }
	engine := make(chan *policy.Engine, 1)
	var loaded *policy.Engine
	a.Engines = func() *policy.Engine {
		select {
		case e := <-engine:
			loaded = e
		default:
		}
		return loaded
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Start(ctx) }()

	engine <- defaultEngine(t)
	a.Trigger()
	a.Trigger() // coalesced, never blocks
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(a.Metrics.LastSuccess) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no audit within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Start returned %v", err)
	}
	getReport(t, c, "web")
	var crds = []string{"policyreports.wgpolicyk8s.io", "clusterpolicyreports.wgpolicyk8s.io"}
	for _, name := range crds {
		if _, err := getCRD(c, name); err != nil {
			t.Errorf("CRD %s: %v", name, err)
		}
	}
}

func TestOwnedByWorkload(t *testing.T) {
	for _, tc := range []struct {
		ref  *metav1.OwnerReference
		want bool
	}{
		{nil, false},
		{ptr.To(controlledBy("apps/v1", "ReplicaSet", "a", "1")), true},
		{ptr.To(controlledBy("batch/v1", "Job", "a", "1")), true},
		{ptr.To(controlledBy("v1", "ReplicationController", "a", "1")), true},
		{ptr.To(controlledBy("v1", "Node", "n", "1")), false},                                 // a static pod's mirror
		{ptr.To(controlledBy("argoproj.io/v1alpha1", "Rollout", "r", "1")), false},            // not judged by the audit
		{&metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "a"}, false}, // not the controller
	} {
		pod := &corev1.Pod{}
		if tc.ref != nil {
			pod.OwnerReferences = []metav1.OwnerReference{*tc.ref}
		}
		if got := ownedByWorkload(pod); got != tc.want {
			t.Errorf("owner %+v: ownedByWorkload = %v, want %v", tc.ref, got, tc.want)
		}
	}
}
