package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstallDryRunPrintsManifests(t *testing.T) {
	code, out, errOut := run(t, "", "install", "--dry-run", "-n", "sec", "--set", "replicas=3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"kind: CustomResourceDefinition", "kind: ValidatingWebhookConfiguration", "kind: MutatingWebhookConfiguration",
		"kind: Deployment", "namespace: sec", "replicas: 3", `values: ["kube-system","sec"]`, "kind: ClusterSecurityPolicy",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the rendered manifests lack %q", want)
		}
	}
	if strings.Index(out, "kind: CustomResourceDefinition") > strings.Index(out, "kind: Deployment") {
		t.Error("CRDs are not first")
	}
}

// TestInstallDryRunScansClean pipes the rendered chart into `outrider scan -`, as the help
// suggests: the controller passes its own default policy.
func TestInstallDryRunScansClean(t *testing.T) {
	code, out, errOut := run(t, "", "install", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, scanOut, scanErr := run(t, out, "scan", "-")
	if code != 0 {
		t.Errorf("outrider scan of the chart: exit %d\n%s%s", code, scanOut, scanErr)
	}
}

func TestInstallUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "kubeconfig")
	// Nothing listens on port 1 of the loopback address: the connection is refused at once.
	kubeconfig := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
	if err := os.WriteFile(bad, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"timeout above 5s", []string{"install", "--dry-run", "--set", "admission.timeoutSeconds=10"}, 2, "admission.timeoutSeconds must be"},
		{"bad failure policy", []string{"install", "--dry-run", "--set", "admission.failurePolicy=Maybe"}, 2, "admission.failurePolicy must be Fail or Ignore"},
		{"bad --set", []string{"install", "--dry-run", "--set", "a[x]=1"}, 2, "--set"},
		{"missing values file", []string{"install", "--dry-run", "-f", filepath.Join(dir, "nope.yaml")}, 2, "nope.yaml"},
		{"bad namespace", []string{"install", "--dry-run", "-n", "Not_OK"}, 2, "namespace"},
		{"bad timeout", []string{"install", "--timeout", "0s"}, 2, "--timeout"},
		{"arguments", []string{"install", "extra"}, 2, "unknown command"},
		{"unreachable cluster", []string{"install", "--kubeconfig", bad, "--timeout", "5s"}, 1, "127.0.0.1:1"},
		{"uninstall bad namespace", []string{"uninstall", "-n", "Not_OK"}, 2, "namespace"},
		{"uninstall unreachable cluster", []string{"uninstall", "--kubeconfig", bad, "--timeout", "5s"}, 1, "127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q does not mention %q", errOut, tt.want)
			}
			if strings.Contains(errOut, "done") {
				t.Errorf("a failed command said done: %s", errOut)
			}
		})
	}
}
