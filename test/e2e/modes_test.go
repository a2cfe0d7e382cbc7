//go:build e2e

package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

// The mode tests give their namespace a policy of its own. The cluster-wide default policy
// (Enforce) would still refuse there, so each excludes its namespace from it for its duration:
// they change cluster-wide state and do not run in parallel.

// privilegedDeployment has no replicas: it is judged without running a privileged pod.
func privilegedDeployment(ns, name string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(name, privilegedPodSpec()),
		},
	}
}

func hasWarning(ws []string, substr string) bool {
	return slices.ContainsFunc(ws, func(w string) bool { return strings.Contains(w, substr) })
}

func TestWarnModeAdmitsWithWarnings(t *testing.T) {
	ns := newNamespace(t, "warn", map[string]string{"e2e.outrider.dev/mode": "warn"})
	excludeFromDefaultPolicy(t, ns)
	createSecurityPolicy(t, ns, "warn-only", v1alpha1.SecurityPolicySpec{Mode: v1alpha1.ModeWarn})

	// In force on every replica: a dry run is admitted with the warning, several times in a row.
	consistently(t, 30*time.Second, 4, "the Warn policy in force", func(ctx context.Context) (bool, error) {
		cs, warns := clientWithWarnings(t)
		_, err := cs.AppsV1().Deployments(ns).Create(ctx, privilegedDeployment(ns, "probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil && hasWarning(warns.all(), "[pss.privileged]"), nil
	})

	cs, warns := clientWithWarnings(t)
	ctx := ctxFor(t, 30*time.Second)
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, privilegedDeployment(ns, "root-shell"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a Warn policy refused the Deployment: %v", err)
	}
	got := warns.all()
	for _, want := range []string{"[pss.privileged] critical: ", "(at spec.template.spec.containers[0].securityContext.privileged)"} {
		if !hasWarning(got, want) {
			t.Errorf("no admission warning contains %q; warnings:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

func TestAuditModeRecordsPolicyReport(t *testing.T) {
	ns := newNamespace(t, "audit", map[string]string{"e2e.outrider.dev/mode": "audit"})
	excludeFromDefaultPolicy(t, ns)
	createSecurityPolicy(t, ns, "audit-only", v1alpha1.SecurityPolicySpec{Mode: v1alpha1.ModeAudit})
	consistently(t, 30*time.Second, 4, "the default policy no longer applies", func(ctx context.Context) (bool, error) {
		_, err := env.cs.AppsV1().Deployments(ns).Create(ctx, privilegedDeployment(ns, "probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil, nil
	})
	ctx := ctxFor(t, 2*time.Minute)
	if _, err := env.cs.AppsV1().Deployments(ns).Create(ctx, privilegedDeployment(ns, "root-shell"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("an Audit policy refused the Deployment: %v", err)
	}
	// A policy change audits at once; change the policy now that the workload exists, so the
	// test does not wait for the audit interval.
	u, err := env.dyn.Resource(spGVR).Namespace(ns).Get(ctx, "audit-only", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedSlice(u.Object, []any{map[string]any{"id": "image.digest", "enabled": false}}, "spec", "checks"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.dyn.Resource(spGVR).Namespace(ns).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("touching the policy: %v", err)
	}

	var last []any
	eventually(t, 60*time.Second, time.Second, "PolicyReport outrider-audit with the finding", func(ctx context.Context) (bool, error) {
		r, err := env.dyn.Resource(policyReportGVR).Namespace(ns).Get(ctx, "outrider-audit", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		last, _, _ = unstructured.NestedSlice(r.Object, "results")
		return findReportResult(last, "fail", "pss.privileged", "Deployment", "root-shell"), nil
	})
}

// findReportResult says whether results hold one with this outcome and rule for the workload.
func findReportResult(results []any, result, rule, kind, name string) bool {
	for _, r := range results {
		m, _ := r.(map[string]any)
		if m["result"] != result || m["rule"] != rule {
			continue
		}
		refs, _ := m["resources"].([]any)
		for _, ref := range refs {
			rm, _ := ref.(map[string]any)
			if rm["kind"] == kind && rm["name"] == name {
				return true
			}
		}
	}
	return false
}

// rootPod violates restricted (pss.runAsNonRoot) and nothing in baseline.
func rootPod(ns, name string) *corev1.Pod {
	spec := restrictedPodSpec()
	spec.SecurityContext.RunAsNonRoot = nil
	spec.SecurityContext.RunAsUser = nil
	spec.SecurityContext.RunAsGroup = nil
	return newPod(ns, name, spec)
}

// controllerPods maps the controller's pods to their total restart count.
func controllerPods(t *testing.T) map[string]int32 {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	sel, err := metav1.LabelSelectorAsSelector(env.controller.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := env.cs.CoreV1().Pods(outriderNamespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int32{}
	for _, p := range pods.Items {
		var n int32
		for _, s := range p.Status.ContainerStatuses {
			n += s.RestartCount
		}
		out[p.Name] = n
	}
	return out
}

func TestPolicyChangeAppliesWithoutRestart(t *testing.T) {
	ns := newNamespace(t, "change", nil)
	excludeFromDefaultPolicy(t, ns)
	const name = "level"
	createSecurityPolicy(t, ns, name, v1alpha1.SecurityPolicySpec{
		Mode: v1alpha1.ModeEnforce, PodSecurity: &v1alpha1.PodSecuritySpec{Level: "restricted"},
	})
	consistently(t, 30*time.Second, 4, "restricted in force from the namespace's policy only", func(ctx context.Context) (bool, error) {
		_, err := env.cs.CoreV1().Pods(ns).Create(ctx, rootPod(ns, "probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil {
			return false, nil
		}
		msg := err.Error()
		return strings.Contains(msg, "[pss.runAsNonRoot]") && strings.Contains(msg, "policy: "+name) && !strings.Contains(msg, "policy: default"), nil
	})
	before := controllerPods(t)

	ctx := ctxFor(t, time.Minute)
	u, err := env.dyn.Resource(spGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(u.Object, "baseline", "spec", "podSecurity", "level"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.dyn.Resource(spGVR).Namespace(ns).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("lowering the policy to baseline: %v", err)
	}
	changed := time.Now()
	eventually(t, 15*time.Second, 200*time.Millisecond, "a restricted-only violation admitted under baseline", func(ctx context.Context) (bool, error) {
		_, err := env.cs.CoreV1().Pods(ns).Create(ctx, rootPod(ns, "root"), metav1.CreateOptions{})
		if err != nil && !apierrors.IsForbidden(err) {
			return false, err
		}
		return err == nil, nil
	})
	t.Logf("the change applied %v after the update", time.Since(changed).Round(10*time.Millisecond))

	// Baseline still refuses what baseline forbids.
	_, err = env.cs.CoreV1().Pods(ns).Create(ctx, newPod(ns, "priv", privilegedPodSpec()), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	requireRefused(t, err, "a privileged pod under baseline", "[pss.privileged]")

	after := controllerPods(t)
	for pod, restarts := range before {
		if n, ok := after[pod]; !ok {
			t.Errorf("controller pod %s went away during a policy change", pod)
		} else if n != restarts {
			t.Errorf("controller pod %s restarted during a policy change (%d -> %d)", pod, restarts, n)
		}
	}
}
