//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// ctxFor returns a context bounded by d and cancelled when the test ends.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newNamespace creates e2e-<short>-<random> with the given labels and deletes it when the test ends.
func newNamespace(t *testing.T, short string, labels map[string]string) string {
	t.Helper()
	name := fmt.Sprintf("e2e-%s-%s", short, rand.String(5))
	l := map[string]string{"e2e.outrider.dev/test": "true"}
	for k, v := range labels {
		l[k] = v
	}
	ctx := ctxFor(t, 30*time.Second)
	if _, err := env.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := env.cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{
			PropagationPolicy: ptr.To(metav1.DeletePropagationBackground),
		})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting namespace %s: %v", name, err)
		}
	})
	return name
}

// eventually polls cond every interval until it returns true, an error, or timeout passes.
func eventually(t *testing.T, timeout, interval time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx := ctxFor(t, timeout)
	start := time.Now()
	err := wait.PollUntilContextCancel(ctx, interval, true, cond)
	if err != nil {
		t.Fatalf("waiting %v for %s: %v", timeout, what, err)
	}
	t.Logf("%s after %v", what, time.Since(start).Round(10*time.Millisecond))
}

// warnings records the admission warnings a client received.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.list...)
}

// clientWithWarnings returns a clientset whose admission warnings are recorded.
func clientWithWarnings(t *testing.T) (kubernetes.Interface, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(env.cfg)
	cfg.WarningHandler = w
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs, w
}

// kubectl runs the cluster's kubectl with the admin kubeconfig; it never fails the test.
func kubectl(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, env.kubectl, append([]string{"--kubeconfig", env.kubeconfig}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	return o.String(), e.String(), err
}

// --- object builders ---

// restrictedContainer meets Pod Security Standards restricted and Outrider's default-on checks.
func restrictedContainer(name string) corev1.Container {
	return corev1.Container{
		Name:  name,
		Image: testImage,
		// sh as PID 1 ignores SIGTERM unless told; exit at once so namespaces go away quickly.
		Command: []string{"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("5m"), corev1.ResourceMemory: resource.MustParse("8Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
		},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
}

// restrictedPodSpec is a pod spec the default policy admits.
func restrictedPodSpec() corev1.PodSpec {
	return corev1.PodSpec{
		AutomountServiceAccountToken:  ptr.To(false),
		TerminationGracePeriodSeconds: ptr.To[int64](2),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To[int64](65532),
			RunAsGroup:     ptr.To[int64](65532),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{restrictedContainer("app")},
	}
}

// privilegedPodSpec is the restricted spec with one change: its container is privileged.
func privilegedPodSpec() corev1.PodSpec {
	s := restrictedPodSpec()
	s.Containers[0].SecurityContext.Privileged = ptr.To(true)
	s.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil // privileged implies it
	return s
}

func podTemplate(app string, spec corev1.PodSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}}, Spec: spec}
}

func newPod(ns, name string, spec corev1.PodSpec) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}}, Spec: spec}
}

// waitPodReady waits until the pod runs and is ready.
func waitPodReady(t *testing.T, ns, name string, timeout time.Duration) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	eventually(t, timeout, 500*time.Millisecond, fmt.Sprintf("pod %s/%s ready", ns, name), func(ctx context.Context) (bool, error) {
		p, err := env.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pod = p
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("pod ended: %s", p.Status.Phase)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	return pod
}

// --- refusals ---

// requireRefused fails unless err is outrider's refusal (Forbidden, naming the check) and
// returns the message.
func requireRefused(t *testing.T, err error, what string, wantInMessage ...string) string {
	t.Helper()
	if err == nil {
		t.Fatalf("%s was admitted; want it refused", what)
	}
	if !apierrors.IsForbidden(err) {
		t.Fatalf("%s: want a Forbidden refusal, got %T: %v", what, err, err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "outrider refused") {
		t.Fatalf("%s was refused, but not by outrider: %v", what, err)
	}
	for _, s := range wantInMessage {
		if !strings.Contains(msg, s) {
			t.Errorf("%s: the refusal does not contain %q:\n%s", what, s, msg)
		}
	}
	return msg
}

// --- dynamic objects ---

// createUnstructured creates obj through the dynamic client; dryRun makes it a server-side dry run
// (the webhooks declare sideEffects None, so they run).
func createUnstructured(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	m, err := env.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		env.mapper.Reset()
		if m, err = env.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, fmt.Errorf("mapping %s: %w", gvk, err)
		}
	}
	opts := metav1.CreateOptions{}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if m.Scope.Name() == "namespace" {
		return env.dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Create(ctx, obj, opts)
	}
	return env.dyn.Resource(m.Resource).Create(ctx, obj, opts)
}

// isNamespaced says whether objects of obj's kind live in a namespace; known is false for kinds
// the cluster does not serve.
func isNamespaced(obj *unstructured.Unstructured) (namespaced, known bool) {
	gvk := obj.GroupVersionKind()
	m, err := env.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return false, false
	}
	return m.Scope.Name() == "namespace", true
}
