//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestMeshedPodWithAPITokenIsInjectedWithoutLeakingIt: a meshed pod that keeps Kubernetes'
// default API token mount is admitted and injected, and the API server's ServiceAccount step,
// which runs again after injection, does not mount the app's token into the capture and proxy
// containers (it once did, and admission then refused the pod as a forgery).
func TestMeshedPodWithAPITokenIsInjectedWithoutLeakingIt(t *testing.T) {
	ns := newNamespace(t, "apitoken", map[string]string{"security.outrider.dev/mesh": "enabled"})
	p := newPod(ns, "with-token", restrictedPodSpec())
	p.Spec.AutomountServiceAccountToken = ptr.To(true)
	ctx := ctxFor(t, time.Minute)
	got, err := env.cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("a meshed pod with the default API token was refused: %v", err)
	}
	if len(got.Spec.InitContainers) < 2 || got.Spec.InitContainers[1].Name != "outrider-proxy" {
		t.Fatalf("not injected: %+v", got.Spec.InitContainers)
	}
	for _, c := range got.Spec.InitContainers[:2] {
		for _, m := range c.VolumeMounts {
			if strings.HasPrefix(m.Name, "kube-api-access") {
				t.Errorf("%s mounts the app's API token (%s)", c.Name, m.Name)
			}
		}
	}
	app := got.Spec.Containers[0]
	found := false
	for _, m := range app.VolumeMounts {
		found = found || strings.HasPrefix(m.Name, "kube-api-access")
	}
	if !found {
		t.Error("the app lost its own API token mount")
	}
}
