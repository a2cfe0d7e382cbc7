package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/outrider-sec/outrider/internal/cli/command"
)

func execMesh(stdin string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	cmd := newMeshCommand(command.Streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func exitCode(err error) int {
	var exit *command.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.Code
	}
	return -1
}

const backendPolicy = `apiVersion: security.outrider.dev/v1alpha1
kind: AccessPolicy
metadata: {name: backend, namespace: shop}
spec:
  selector: {matchLabels: {app: backend}}
  ingress:
    - from: [{serviceAccounts: [frontend]}]
      ports: [{port: 8080}]
`

func TestNetpolFromFilesAndDirectories(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/backend.yaml", backendPolicy+"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: skipped}\n")
	write("a/no-namespace.yml", "apiVersion: security.outrider.dev/v1alpha1\nkind: AccessPolicy\nmetadata: {name: lock}\nspec: {}\n")
	write("a/.git/ignored.yaml", "not: [yaml")
	write("a/README.md", "not a manifest")
	out, stderr, err := execMesh("", "netpol", "-n", "web", filepath.Join(dir, "a"))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"name: outrider-backend\n  namespace: shop", "name: outrider-lock\n  namespace: web",
		"# - spec.ingress[0].from[0].serviceAccounts: a NetworkPolicy cannot name ServiceAccounts, so every pod in shop is allowed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if want := "rendered 2 NetworkPolicies from 2 AccessPolicies; 2 of them carry notes"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q lacks %q", stderr, want)
	}
}

func TestNetpolFromKubectlListOnStdin(t *testing.T) {
	js, err := yaml.YAMLToJSON([]byte(backendPolicy))
	if err != nil {
		t.Fatal(err)
	}
	list := `{"apiVersion": "v1", "kind": "List", "items": [` + string(js) + `]}`
	out, _, err := execMesh(list, "netpol", "-")
	if err != nil || !strings.Contains(out, "outrider-backend") {
		t.Errorf("%v\n%s", err, out)
	}
}

func TestNetpolInvalidInputRendersTheRest(t *testing.T) {
	in := backendPolicy + "---\n" + strings.Replace(backendPolicy, "name: backend", "name: broken", 1) +
		"      http: {methods: [FETCH]}\n---\napiVersion: security.outrider.dev/v1alpha1\nkind: AccessPolicy\nmetadata: {name: typo, namespace: shop}\nspec: {ingres: []}\n"
	out, stderr, err := execMesh(in, "netpol", "-")
	if exitCode(err) != 2 {
		t.Fatalf("exit %v, want 2", err)
	}
	if !strings.Contains(out, "outrider-backend") || strings.Contains(out, "outrider-broken") || strings.Contains(out, "outrider-typo") {
		t.Errorf("output:\n%s", out)
	}
	for _, want := range []string{`AccessPolicy shop/broken is invalid: spec.ingress[0].http.methods[0]: Unsupported value: "FETCH"`,
		`-:20: AccessPolicy typo: unknown field "spec.ingres"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestNetpolUsage(t *testing.T) {
	if _, _, err := execMesh("", "netpol", "--kubeconfig", "k", "file.yaml"); exitCode(err) != 2 {
		t.Errorf("--kubeconfig with paths: %v", err)
	}
	if _, stderr, err := execMesh("", "netpol", "/no/such/file.yaml"); exitCode(err) != 2 || !strings.Contains(stderr, "no such file") {
		t.Errorf("missing file: %v %s", err, stderr)
	}
}

// fakeAPIServer serves AccessPolicy lists in pages of one, as the API server would with limit.
func fakeAPIServer(t *testing.T, items ...string) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if !strings.HasPrefix(r.URL.Path, "/apis/security.outrider.dev/v1alpha1/") || !strings.HasSuffix(r.URL.Path, "/accesspolicies") {
			http.NotFound(w, r)
			return
		}
		page := 0
		if c := r.URL.Query().Get("continue"); c != "" {
			page = int(c[0] - '0')
		}
		meta := map[string]any{}
		if page+1 < len(items) {
			meta["continue"] = string(rune('0' + page + 1))
		}
		var list []json.RawMessage
		if page < len(items) {
			js, err := yaml.YAMLToJSON([]byte(items[page]))
			if err != nil {
				t.Error(err)
			}
			list = append(list, js)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"apiVersion": "security.outrider.dev/v1alpha1", "kind": "AccessPolicyList", "metadata": meta, "items": list})
	}))
	t.Cleanup(srv.Close)
	return srv, &paths
}

func kubeconfigFor(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "` + server + `"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: test, context: {cluster: c, user: u}}]
current-context: test
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNetpolFromCluster(t *testing.T) {
	second := strings.NewReplacer("name: backend", "name: db", "app: backend", "app: db").Replace(backendPolicy)
	srv, paths := fakeAPIServer(t, backendPolicy, second)
	out, stderr, err := execMesh("", "netpol", "--kubeconfig", kubeconfigFor(t, srv.URL))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(out, "outrider-backend") || !strings.Contains(out, "outrider-db") {
		t.Errorf("output:\n%s", out)
	}
	if len(*paths) != 2 || (*paths)[0] != "/apis/security.outrider.dev/v1alpha1/accesspolicies" {
		t.Errorf("requests %v, want two pages of the cluster-wide list", *paths)
	}
	*paths = nil
	if _, _, err := execMesh("", "netpol", "--kubeconfig", kubeconfigFor(t, srv.URL), "-n", "shop"); err != nil {
		t.Fatal(err)
	}
	if (*paths)[0] != "/apis/security.outrider.dev/v1alpha1/namespaces/shop/accesspolicies" {
		t.Errorf("requests %v", *paths)
	}
}

func TestNetpolClusterErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	_, _, err := execMesh("", "netpol", "--kubeconfig", kubeconfigFor(t, srv.URL))
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "is Outrider's CRD installed?") {
		t.Errorf("no CRD: %v", err)
	}
	_, _, err = execMesh("", "netpol", "--kubeconfig", filepath.Join(t.TempDir(), "missing"))
	if exitCode(err) != 1 {
		t.Errorf("missing kubeconfig: %v", err)
	}
}
