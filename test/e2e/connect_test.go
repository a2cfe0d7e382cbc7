//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestKubectlDebugPrivilegedEphemeralContainerRefused tries invariant 1 through the
// ephemeralcontainers subresource: `kubectl debug` adds containers to a pod that was admitted
// long ago, and a privileged one is a root shell on the node.
func TestKubectlDebugPrivilegedEphemeralContainerRefused(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "debug", nil)
	ctx := ctxFor(t, 2*time.Minute)
	if _, err := env.cs.CoreV1().Pods(ns).Create(ctx, newPod(ns, "target", restrictedPodSpec()), metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a compliant pod: %v", err)
	}
	pod := waitPodReady(t, ns, "target", 90*time.Second)

	t.Run("privileged ephemeral container via the subresource", func(t *testing.T) {
		p := pod.DeepCopy()
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debugger", Image: testImage, Command: []string{"sleep", "60"},
				SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
			},
		})
		_, err := env.cs.CoreV1().Pods(ns).UpdateEphemeralContainers(ctx, "target", p, metav1.UpdateOptions{})
		requireRefused(t, err, "a privileged ephemeral container", "[pss.privileged]",
			"(at spec.ephemeralContainers[0].securityContext.privileged)")
	})

	t.Run("kubectl debug --profile=sysadmin", func(t *testing.T) {
		_, stderr, err := kubectl(ctx, "-n", ns, "debug", "target", "--image="+testImage,
			"--profile=sysadmin", "-c", "sysadmin", "--", "sleep", "60")
		if err == nil {
			t.Fatalf("kubectl debug --profile=sysadmin was admitted")
		}
		if !strings.Contains(stderr, "outrider refused") || !strings.Contains(stderr, "pss.privileged") {
			t.Errorf("kubectl debug failed, but not with outrider's refusal:\n%s", stderr)
		}
	})

	t.Run("restricted ephemeral container is admitted", func(t *testing.T) {
		p, err := env.cs.CoreV1().Pods(ns).Get(ctx, "target", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := restrictedContainer("debug-ok")
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: c.Name, Image: c.Image, Command: []string{"sleep", "60"}, SecurityContext: c.SecurityContext,
			},
		})
		if _, err := env.cs.CoreV1().Pods(ns).UpdateEphemeralContainers(ctx, "target", p, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("a restricted ephemeral container was refused: %v", err)
		}
	})
}

// escalatingPod is privileged and carries the suppression annotations, so the workload webhook
// admits it and the CONNECT guard is the only thing left between a user and the node.
func escalatingPod(ns, name string) *corev1.Pod {
	p := newPod(ns, name, privilegedPodSpec())
	p.Annotations = map[string]string{
		"security.outrider.dev/ignore":        "*",
		"security.outrider.dev/ignore-reason": "e2e: a privileged pod for the exec guard test",
	}
	return p
}

func TestExecIntoPrivilegedPodRefused(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "exec-priv", nil)
	ctx := ctxFor(t, 2*time.Minute)
	if _, err := env.cs.CoreV1().Pods(ns).Create(ctx, escalatingPod(ns, "node-shell"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a privileged pod with the suppression annotations was refused: %v", err)
	}
	waitPodReady(t, ns, "node-shell", 90*time.Second)

	cases := []struct {
		name, subresource string
		args              []string
	}{
		{"exec", "exec", []string{"exec", "node-shell", "--", "echo", "ok"}},
		{"attach", "attach", []string{"attach", "node-shell", "-c", "app"}},
		{"port-forward", "portforward", []string{"port-forward", "pod/node-shell", ":8080", "--address", "127.0.0.1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			stdout, stderr, err := kubectl(ctx, append([]string{"-n", ns}, tc.args...)...)
			if ctx.Err() != nil {
				t.Fatalf("kubectl %s into a privileged pod was not refused (still running after 20s); stdout:\n%s\nstderr:\n%s", tc.name, stdout, stderr)
			}
			if err == nil {
				t.Fatalf("kubectl %s into a privileged pod succeeded: %s", tc.name, stdout)
			}
			want := "outrider refused " + tc.subresource + " into pod " + ns + "/node-shell"
			if !strings.Contains(stderr, want) || !strings.Contains(stderr, "privileged") {
				t.Errorf("kubectl %s failed, but without %q and the reason:\n%s", tc.name, want, stderr)
			}
		})
	}
}

func TestExecIntoNormalPodAllowed(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "exec-ok", nil)
	ctx := ctxFor(t, 2*time.Minute)
	if _, err := env.cs.CoreV1().Pods(ns).Create(ctx, newPod(ns, "app", restrictedPodSpec()), metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a compliant pod: %v", err)
	}
	waitPodReady(t, ns, "app", 90*time.Second)
	stdout, stderr, err := kubectl(ctx, "-n", ns, "exec", "app", "--", "echo", "ok")
	if err != nil || strings.TrimSpace(stdout) != "ok" {
		t.Fatalf("kubectl exec into a compliant pod: err=%v stdout=%q stderr:\n%s", err, stdout, stderr)
	}
}
