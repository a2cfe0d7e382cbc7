package scan

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outrider-sec/outrider/internal/policy"
)

const privilegedPod = "apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec: {containers: [{name: c, image: registry.example.com/c:1, securityContext: {privileged: true}}]}\n"

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func pod(name string) string { return strings.Replace(privilegedPod, "%s", name, 1) }

// resourcesScanned lists "file name" of every evaluated object.
func resourcesScanned(t *testing.T, opts Options) ([]string, []string) {
	t.Helper()
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var got, errs []string
	for _, r := range res.Resources {
		got = append(got, filepath.Base(r.File)+" "+r.Name)
	}
	for _, e := range res.Errors {
		errs = append(errs, filepath.Base(e.File)+": "+e.Message)
	}
	return got, errs
}

func TestDirectoriesAreWalkedRecursively(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), pod("a"))
	writeFile(t, filepath.Join(dir, "sub", "deeper", "b.yml"), pod("b"))
	writeFile(t, filepath.Join(dir, "sub", "c.json"), `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"c"},"spec":{"containers":[]}}`)
	writeFile(t, filepath.Join(dir, "notes.txt"), "not a manifest")
	writeFile(t, filepath.Join(dir, ".git", "d.yaml"), pod("hidden"))
	writeFile(t, filepath.Join(dir, "kustomization.yaml"), "resources: [a.yaml]\n")
	got, errs := resourcesScanned(t, Options{Paths: []string{dir}})
	if diff := cmp.Diff([]string{"a.yaml a", "c.json c", "b.yml b"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if errs != nil {
		t.Errorf("errors: %v", errs)
	}
}

func TestStdin(t *testing.T) {
	got, _ := resourcesScanned(t, Options{Paths: []string{"-"}, Stdin: strings.NewReader(pod("from-stdin"))})
	if diff := cmp.Diff([]string{"- from-stdin"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMissingInputIsAnErrorAndTheRestIsScanned(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), pod("a"))
	got, errs := resourcesScanned(t, Options{Paths: []string{filepath.Join(dir, "nope.yaml"), filepath.Join(dir, "a.yaml")}})
	if diff := cmp.Diff([]string{"a.yaml a"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"nope.yaml: no such file or directory"}, errs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestKustomizeErrorsAreInputErrors(t *testing.T) {
	_, errs := resourcesScanned(t, Options{Kustomizations: []string{t.TempDir()}})
	if len(errs) != 1 || !strings.Contains(errs[0], "kustomize") {
		t.Errorf("errors: %v", errs)
	}
}

// The verdict and exit code follow the worst blocking finding and any input error.
func TestVerdicts(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "priv.yaml"), pod("p"))
	writeFile(t, filepath.Join(dir, "bad.yaml"), "kind: [\n")
	tests := []struct {
		opts Options
		code int
	}{
		{Options{Paths: []string{filepath.Join(dir, "priv.yaml")}}, 1},
		{Options{Paths: []string{filepath.Join(dir, "priv.yaml")}, FailOn: "critical"}, 1},
		{Options{Paths: []string{filepath.Join(fixtures, "compliant-deployment.yaml")}, FailOn: "info"}, 0},
		{Options{Paths: []string{filepath.Join(fixtures, "cronjob-defaults.yaml")}, FailOn: "critical"}, 0},
		{Options{Paths: []string{filepath.Join(dir, "bad.yaml"), filepath.Join(dir, "priv.yaml")}}, 2},
	}
	for i, tt := range tests {
		res, err := Run(context.Background(), tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.ExitCode(); got != tt.code {
			t.Errorf("case %d: exit code %d, want %d (summary %+v)", i, got, tt.code, res.Summary)
		}
	}
}

func TestCancelledScanStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Options{Paths: []string{fixtures}}); err == nil {
		t.Error("a cancelled scan returned no error")
	}
}

// Offline, a policy that selects namespaces by label learns the labels from the Namespace
// objects among the inputs, wherever they are in them.
func TestNamespaceSelectorUsesNamespaceObjects(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a-workloads.yaml"), strings.Replace(pod("prod-pod"), "metadata: {name: prod-pod}", "metadata: {name: prod-pod, namespace: shop}", 1)+
		"---\n"+strings.Replace(pod("dev-pod"), "metadata: {name: dev-pod}", "metadata: {name: dev-pod, namespace: sandbox}", 1))
	writeFile(t, filepath.Join(dir, "z-namespaces.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {env: prod}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: sandbox}\n")
	ps := mustPolicies(t, "apiVersion: security.outrider.dev/v1alpha1\nkind: ClusterSecurityPolicy\nmetadata: {name: prod}\nspec: {match: {namespaceSelector: {matchLabels: {env: prod}}}}\n")
	res, err := Run(context.Background(), Options{Paths: []string{filepath.Join(dir, "a-workloads.yaml"), filepath.Join(dir, "z-namespaces.yaml")}, Policies: ps})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range res.Findings {
		seen[f.Resource.Name] = true
	}
	if !seen["prod-pod"] || seen["dev-pod"] {
		t.Errorf("findings for %v; want prod-pod only", seen)
	}
}

func mustPolicies(t *testing.T, doc string) []*policy.Policy {
	t.Helper()
	ps, err := policy.ParsePolicies("policy.yaml", []byte(doc), "default")
	if err != nil {
		t.Fatal(err)
	}
	return ps
}
