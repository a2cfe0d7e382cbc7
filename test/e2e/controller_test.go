//go:build e2e

package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
)

// scaleController sets the controller's replicas.
func scaleController(ctx context.Context, replicas int32) error {
	d := env.cs.AppsV1().Deployments(outriderNamespace)
	_, err := d.UpdateScale(ctx, env.controller.Name, &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: env.controller.Name, Namespace: outriderNamespace},
		Spec:       autoscalingv1.ScaleSpec{Replicas: replicas},
	}, metav1.UpdateOptions{})
	return err
}

// controllerReady says whether every wanted replica of the controller is updated and ready.
func controllerReady(ctx context.Context, replicas int32) (bool, error) {
	d, err := env.cs.AppsV1().Deployments(outriderNamespace).Get(ctx, env.controller.Name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	s := d.Status
	return d.Status.ObservedGeneration >= d.Generation && s.Replicas == replicas &&
		s.UpdatedReplicas == replicas && s.ReadyReplicas == replicas && s.AvailableReplicas == replicas, nil
}

// webhookService is the Service the validating webhooks call.
func webhookService(t *testing.T) (namespace, name string) {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	vwc, err := env.cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, validatingConfig, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range vwc.Webhooks {
		if s := w.ClientConfig.Service; s != nil {
			return s.Namespace, s.Name
		}
	}
	t.Fatalf("%s calls no Service", validatingConfig)
	return "", ""
}

// TestFailurePolicyWhenControllerDown checks the documented failure behaviour: with no
// controller, workloads in selected namespaces are refused (failurePolicy Fail: an outage must
// not become a bypass), while kube-system keeps working, and recovery needs nothing but the
// controller coming back.
func TestFailurePolicyWhenControllerDown(t *testing.T) {
	ns := newNamespace(t, "down", nil)
	ctx := ctxFor(t, 5*time.Minute)
	d, err := env.cs.AppsV1().Deployments(outriderNamespace).Get(ctx, env.controller.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	replicas := ptr.Deref(d.Spec.Replicas, 1)
	if replicas < 1 {
		t.Fatalf("the controller has %d replicas before the test", replicas)
	}
	svcNS, svc := webhookService(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := scaleController(ctx, replicas); err != nil {
			t.Errorf("RESTORE FAILED: scale deployment/%s in %s back to %d by hand: %v", env.controller.Name, outriderNamespace, replicas, err)
			return
		}
		for ctx.Err() == nil {
			if ok, _ := controllerReady(ctx, replicas); ok {
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		t.Errorf("the controller did not come back to %d ready replicas", replicas)
	})

	if err := scaleController(ctx, 0); err != nil {
		t.Fatalf("scaling the controller to 0: %v", err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, 500*time.Millisecond, "no controller pod and no webhook endpoint", func(ctx context.Context) (bool, error) {
		pods, err := env.cs.CoreV1().Pods(outriderNamespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return false, err
		}
		slices, err := env.cs.DiscoveryV1().EndpointSlices(svcNS).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
		if err != nil {
			return false, err
		}
		n := 0
		for _, s := range slices.Items {
			n += len(s.Endpoints)
		}
		return len(pods.Items) == 0 && n == 0, nil
	})

	var lastErr error
	eventually(t, 30*time.Second, 500*time.Millisecond, "pod creation fails closed", func(ctx context.Context) (bool, error) {
		_, lastErr = env.cs.CoreV1().Pods(ns).Create(ctx, newPod(ns, "while-down", restrictedPodSpec()), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return lastErr != nil, nil
	})
	if !strings.Contains(lastErr.Error(), "failed calling webhook") {
		t.Errorf("with the controller down, creation failed, but not because the webhook could not be called: %v", lastErr)
	}
	// Real creation too (not only a dry run): nothing may get in while the gate is down.
	if _, err := env.cs.CoreV1().Pods(ns).Create(ctx, newPod(ns, "while-down", restrictedPodSpec()), metav1.CreateOptions{}); err == nil {
		t.Errorf("a pod was admitted with no controller running")
	}

	ksName := "e2e-down-" + rand.String(5)
	if _, err := env.cs.CoreV1().Pods("kube-system").Create(ctx, newPod("kube-system", ksName, restrictedPodSpec()), metav1.CreateOptions{}); err != nil {
		t.Errorf("with the controller down, kube-system is locked too (invariant 6): %v", err)
	} else if err := env.cs.CoreV1().Pods("kube-system").Delete(ctx, ksName, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting kube-system/%s: %v", ksName, err)
	}

	if err := scaleController(ctx, replicas); err != nil {
		t.Fatalf("scaling the controller back to %d: %v", replicas, err)
	}
	eventually(t, 2*time.Minute, time.Second, fmt.Sprintf("%d controller replicas ready", replicas), func(ctx context.Context) (bool, error) {
		return controllerReady(ctx, replicas)
	})
	eventually(t, 60*time.Second, 500*time.Millisecond, "pod creation works again", func(ctx context.Context) (bool, error) {
		_, err := env.cs.CoreV1().Pods(ns).Create(ctx, newPod(ns, "after", restrictedPodSpec()), metav1.CreateOptions{})
		return err == nil, nil
	})
}

// TestWebhookConfigurationIsSafe checks invariant 6 on what is installed: the webhook can never
// lock the cluster, and the controller is hard to take down by accident.
func TestWebhookConfigurationIsSafe(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, time.Minute)
	nsLabels := func(name string) labels.Set {
		n, err := env.cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return n.Labels
	}
	protected := map[string]labels.Set{"kube-system": nsLabels("kube-system"), outriderNamespace: nsLabels(outriderNamespace)}
	workloadNS := newNamespace(t, "safe", nil)
	workloadLabels := nsLabels(workloadNS)

	type hook struct {
		config, name  string
		failurePolicy *admissionregistrationv1.FailurePolicyType
		timeout       *int32
		nsSelector    *metav1.LabelSelector
		caBundle      []byte
		sideEffects   *admissionregistrationv1.SideEffectClass
	}
	var hooks []hook
	vwc, err := env.cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, validatingConfig, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading %s: %v", validatingConfig, err)
	}
	for _, w := range vwc.Webhooks {
		hooks = append(hooks, hook{validatingConfig, w.Name, w.FailurePolicy, w.TimeoutSeconds, w.NamespaceSelector, w.ClientConfig.CABundle, w.SideEffects})
	}
	mwc, err := env.cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, mutatingConfig, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading %s: %v", mutatingConfig, err)
	}
	for _, w := range mwc.Webhooks {
		hooks = append(hooks, hook{mutatingConfig, w.Name, w.FailurePolicy, w.TimeoutSeconds, w.NamespaceSelector, w.ClientConfig.CABundle, w.SideEffects})
	}
	if len(hooks) == 0 {
		t.Fatal("no webhooks installed")
	}
	for _, h := range hooks {
		id := h.config + "/" + h.name
		// The API server defaults failurePolicy to Fail; the chart must say what it means.
		if h.failurePolicy == nil || *h.failurePolicy == "" {
			t.Errorf("%s: failurePolicy is not explicit", id)
		}
		if h.timeout == nil || *h.timeout > 5 {
			t.Errorf("%s: timeoutSeconds = %v, want explicit and at most 5", id, ptr.Deref(h.timeout, -1))
		}
		if h.sideEffects == nil || (*h.sideEffects != admissionregistrationv1.SideEffectClassNone && *h.sideEffects != admissionregistrationv1.SideEffectClassNoneOnDryRun) {
			t.Errorf("%s: sideEffects must be None or NoneOnDryRun", id)
		}
		if h.nsSelector == nil {
			t.Errorf("%s: no namespaceSelector: it selects kube-system", id)
		} else {
			sel, err := metav1.LabelSelectorAsSelector(h.nsSelector)
			if err != nil {
				t.Errorf("%s: namespaceSelector: %v", id, err)
				continue
			}
			for name, l := range protected {
				if sel.Matches(l) {
					t.Errorf("%s: namespaceSelector %q selects %s", id, sel, name)
				}
			}
			if !sel.Matches(workloadLabels) {
				t.Errorf("%s: namespaceSelector %q does not select an ordinary namespace", id, sel)
			}
		}
		if err := checkCABundle(h.caBundle); err != nil {
			t.Errorf("%s: caBundle: %v", id, err)
		}
	}

	d, err := env.cs.AppsV1().Deployments(outriderNamespace).Get(ctx, env.controller.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := ptr.Deref(d.Spec.Replicas, 1); r < 2 {
		t.Errorf("the controller runs %d replica(s); want at least 2", r)
	}
	pdbs, err := env.cs.PolicyV1().PodDisruptionBudgets(outriderNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	covered := false
	for _, p := range pdbs.Items {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(d.Spec.Template.Labels)) && (p.Spec.MinAvailable != nil || p.Spec.MaxUnavailable != nil) {
			covered = true
		}
	}
	if !covered {
		t.Errorf("no PodDisruptionBudget covers the controller's pods")
	}

	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := env.cs.CoreV1().Pods(outriderNamespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) == 0 {
		t.Fatal("no controller pods")
	}
	for _, p := range pods.Items {
		checkHardened(t, &p)
	}
}

func checkCABundle(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("empty")
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return fmt.Errorf("not a PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	if time.Now().After(c.NotAfter) {
		return fmt.Errorf("expired at %v", c.NotAfter)
	}
	return nil
}

// checkHardened checks that a controller pod runs as non-root with a read-only root filesystem.
func checkHardened(t *testing.T, p *corev1.Pod) {
	t.Helper()
	podNonRoot := p.Spec.SecurityContext != nil && ptr.Deref(p.Spec.SecurityContext.RunAsNonRoot, false)
	podUID := int64(-1)
	if p.Spec.SecurityContext != nil && p.Spec.SecurityContext.RunAsUser != nil {
		podUID = *p.Spec.SecurityContext.RunAsUser
	}
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		if !ptr.Deref(sc.RunAsNonRoot, podNonRoot) {
			t.Errorf("pod %s container %s: runAsNonRoot is not true", p.Name, c.Name)
		}
		if uid := ptr.Deref(sc.RunAsUser, podUID); uid == 0 {
			t.Errorf("pod %s container %s: runs as UID 0", p.Name, c.Name)
		}
		if !ptr.Deref(sc.ReadOnlyRootFilesystem, false) {
			t.Errorf("pod %s container %s: the root filesystem is writable", p.Name, c.Name)
		}
		if ptr.Deref(sc.AllowPrivilegeEscalation, true) {
			t.Errorf("pod %s container %s: allowPrivilegeEscalation is not false", p.Name, c.Name)
		}
	}
}

// TestRolloutRefusesNothing restarts the controller while workloads are being created: the
// webhooks fail closed, so a rollout that drops requests in flight would refuse them. Surge
// before removal, readiness that waits for policies and certificate, and a preStop delay that
// outlasts endpoint propagation must together make a rollout invisible to users.
func TestRolloutRefusesNothing(t *testing.T) {
	ns := newNamespace(t, "rollout", nil)
	ctx := ctxFor(t, 4*time.Minute)
	d, err := env.cs.AppsV1().Deployments(outriderNamespace).Get(ctx, env.controller.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	replicas := ptr.Deref(d.Spec.Replicas, 1)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	before, err := env.cs.CoreV1().Pods(outriderNamespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]bool{}
	for _, p := range before.Items {
		old[p.Name] = true
	}

	stop := make(chan struct{})
	type outcome struct {
		sent, failed int
		first        error
	}
	done := make(chan outcome)
	go func() {
		var o outcome
		tick := time.NewTicker(50 * time.Millisecond) // 20 creations per second
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- o
				return
			case <-tick.C:
			}
			o.sent++
			_, err := env.cs.CoreV1().Pods(ns).Create(ctx, newPod(ns, fmt.Sprintf("p-%d", i), restrictedPodSpec()),
				metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				o.failed++
				if o.first == nil {
					o.first = err
				}
			}
		}
	}()

	if _, _, err := kubectl(ctx, "-n", outriderNamespace, "rollout", "restart", "deployment/"+env.controller.Name); err != nil {
		close(stop)
		<-done
		t.Fatalf("kubectl rollout restart: %v", err)
	}
	if _, stderr, err := kubectl(ctx, "-n", outriderNamespace, "rollout", "status", "deployment/"+env.controller.Name, "--timeout=3m"); err != nil {
		close(stop)
		<-done
		t.Fatalf("rollout did not finish: %v %s", err, stderr)
	}
	// Keep creating until every replica that served before the restart has terminated: the
	// window that matters is an old replica going away.
	eventually(t, 2*time.Minute, 500*time.Millisecond, "every pre-restart controller pod gone", func(ctx context.Context) (bool, error) {
		pods, err := env.cs.CoreV1().Pods(outriderNamespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return false, err
		}
		for _, p := range pods.Items {
			if old[p.Name] {
				return false, nil
			}
		}
		return true, nil
	})
	eventually(t, 2*time.Minute, time.Second, fmt.Sprintf("%d controller replicas ready", replicas), func(ctx context.Context) (bool, error) {
		return controllerReady(ctx, replicas)
	})
	close(stop)
	o := <-done
	t.Logf("%d dry-run creations during the rollout, %d failed", o.sent, o.failed)
	if o.sent < 40 {
		t.Errorf("only %d creations were attempted; the test did not exercise the rollout", o.sent)
	}
	if o.failed > 0 {
		t.Errorf("%d of %d creations failed during a controller rollout; first: %v", o.failed, o.sent, o.first)
	}
}
