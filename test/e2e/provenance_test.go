//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

// provenanceAnnotation is where the controller signs the authorities that verified a meshed
// pod's images (docs/identity.md, "Provenance").
const provenanceAnnotation = "security.outrider.dev/provenance"

// TestOnlyWorkloadsBuiltByThePipelineMayCall is the point of the suite, end to end: an
// AccessPolicy admits only callers whose certificate says a trusted authority signed all
// their code. A pod running the pipeline's signed image gets through; one running unsigned
// code is refused; and one that copies the signed pod's provenance annotation onto its own
// unsigned code gains nothing (the attack a user who can write pods would try).
func TestOnlyWorkloadsBuiltByThePipelineMayCall(t *testing.T) {
	ns := newNamespace(t, "prov", map[string]string{"security.outrider.dev/mesh": "enabled"})
	ci := newSigningKey(t, "ci")
	// Audit mode: unsigned pods are admitted (and reported); only their identity differs.
	spec := signaturePolicy(1, ci)
	spec.Mode = v1alpha1.ModeAudit
	createSecurityPolicy(t, ns, "pipeline", spec)

	signed := pushTrustImage(t, "client", "v1")
	ci.sign(t, signed)
	unsigned := pushTrustImage(t, "client", "v1")

	ctx := ctxFor(t, 4*time.Minute)
	for _, sa := range []string{"server", "client"} {
		if _, err := env.cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	marker := "built-by-the-pipeline-" + rand.String(8)
	server := provenancePod(ns, "server", "server", testImage,
		fmt.Sprintf("mkdir -p /tmp/www && echo %s > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www", marker))
	createPod(ctx, t, server)

	ap := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.outrider.dev/v1alpha1", "kind": "AccessPolicy",
		"metadata": map[string]any{"name": "server", "namespace": ns},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "server"}},
			"ingress": []any{map[string]any{
				"from":  []any{map[string]any{"serviceAccounts": []any{"client"}, "provenance": []any{"ci"}}},
				"ports": []any{map[string]any{"port": int64(8080)}},
			}},
		},
	}}
	if _, err := env.dyn.Resource(accessPolicyGVR).Namespace(ns).Create(ctx, ap, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	sleeper := "trap 'exit 0' TERM; sleep 3600 & wait"
	signedPod := createPod(ctx, t, provenancePod(ns, "signed", "client", signed.Context().Tag("v1").String(), sleeper))
	claim := signedPod.Annotations[provenanceAnnotation]
	if !strings.Contains(claim, ";ci;") {
		t.Fatalf("the pod running signed code has no provenance for ci: %q", claim)
	}
	createPod(ctx, t, provenancePod(ns, "unsigned", "client", unsigned.Context().Tag("v1").String(), sleeper))
	forger := provenancePod(ns, "forger", "client", unsigned.Context().Tag("v1").String(), sleeper)
	forger.Annotations = map[string]string{provenanceAnnotation: claim}
	if got := createPod(ctx, t, forger); got.Annotations[provenanceAnnotation] == claim {
		t.Fatalf("the copied provenance claim was kept on a pod running other code")
	}

	for _, name := range []string{"server", "signed", "unsigned", "forger"} {
		waitPodReady(t, ns, name, 2*time.Minute)
	}
	serverPod, err := env.cs.CoreV1().Pods(ns).Get(ctx, "server", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetch := fmt.Sprintf("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 %s 8080", serverPod.Status.PodIP)
	eventually(t, 60*time.Second, time.Second, "the signed client reaches the server", func(ctx context.Context) (bool, error) {
		out, _, _ := kubectl(ctx, "-n", ns, "exec", "signed", "-c", "app", "--", "sh", "-c", fetch)
		return strings.Contains(out, marker), nil
	})
	for _, name := range []string{"unsigned", "forger"} {
		out, _, _ := kubectl(ctx, "-n", ns, "exec", name, "-c", "app", "--", "sh", "-c", fetch)
		if strings.Contains(out, marker) {
			t.Errorf("%s reached the server without provenance", name)
		}
	}
	logs, err := env.cs.CoreV1().Pods(ns).GetLogs("server", &corev1.PodLogOptions{Container: "outrider-proxy"}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), "connection denied") || !strings.Contains(string(logs), "/sa/client") {
		t.Errorf("the server's proxy logged no denial of the client identity without provenance:\n%s", logs)
	}
}

// provenancePod is a restricted, mesh-compliant pod running script in image as sa.
func provenancePod(ns, name, sa, image, script string) *corev1.Pod {
	p := newPod(ns, name, restrictedPodSpec())
	p.Spec.ServiceAccountName = sa
	c := &p.Spec.Containers[0]
	c.Image = image
	c.Command = []string{"sh", "-c", script}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	p.Spec.Volumes = []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	return p
}

func createPod(ctx context.Context, t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	got, err := env.cs.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s: %v", p.Name, err)
	}
	return got
}
