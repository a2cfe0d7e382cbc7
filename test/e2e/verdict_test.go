//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/yaml"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

// TestAdmissionVerdictEqualsScan is the promise of one engine: every shared fixture
// (test/fixtures, the same files the scan goldens are made from) is applied to the cluster as a
// server-side dry run, and admission must refuse exactly the objects `outrider scan` blocks,
// for the same findings. Objects the API server rejects before the webhook sees them (invalid
// on create) cannot be compared and are logged.
func TestAdmissionVerdictEqualsScan(t *testing.T) {
	bin := outriderBinary(t)
	files, err := filepath.Glob(filepath.Join(env.root, "test", "fixtures", "*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if ext := filepath.Ext(f); ext != ".yaml" && ext != ".yml" && ext != ".json" {
			continue
		}
		n++
		t.Run(strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)), func(t *testing.T) {
			compareFixture(t, bin, f)
		})
	}
	if n == 0 {
		t.Fatal("no fixtures found")
	}
}

// outriderBinary is bin/outrider, which `make up` built and shipped in the controller's image;
// it is built when missing.
func outriderBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(env.root, "bin", "outrider")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	bin = filepath.Join(t.TempDir(), "outrider")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/outrider")
	cmd.Dir = env.root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building outrider: %v\n%s", err, out)
	}
	return bin
}

var policyHeader = regexp.MustCompile(`^#\s*policy:\s*(\S+)`)

func compareFixture(t *testing.T, bin, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t, "verdict", nil)
	objs := fixtureObjects(t, raw, ns)
	if len(objs) == 0 {
		t.Skip("no namespaced object to apply")
	}
	var policyFile string
	if m := policyHeader.FindSubmatch(raw); m != nil {
		policyFile = installFixturePolicy(t, filepath.Join(filepath.Dir(file), string(m[1])), ns)
	} else {
		policyFile = exportDefaultPolicy(t)
	}
	want := scanVerdicts(t, bin, policyFile, objs)

	ctx := ctxFor(t, 2*time.Minute)
	compared := 0
	for _, obj := range objs {
		ref := obj.GetKind() + " " + obj.GetName()
		_, err := createUnstructured(ctx, obj, true)
		var got verdict
		switch {
		case err == nil:
			got = verdict{}
		case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "outrider refused"):
			got = verdict{refused: true, blocking: refusalFindings(err.Error())}
		default:
			t.Logf("%s: not comparable, the API server rejected it before admission: %v", ref, err)
			continue
		}
		w := want[obj.GetKind()+"/"+obj.GetName()]
		if w.scanError != "" {
			// Scan is strict (a misspelt field is an error, exit 2); the API server drops unknown
			// fields before admission. Both stop the object, for different reasons.
			t.Logf("%s: not comparable, scan could not judge it (%s); admission refused=%v", ref, w.scanError, got.refused)
			continue
		}
		compared++
		if w.refused != got.refused {
			t.Errorf("%s: scan says refused=%v (blocking %q), admission says refused=%v (%v)", ref, w.refused, w.blocking, got.refused, err)
			continue
		}
		if got.refused && got.blocking != nil && !slices.Equal(w.blocking, got.blocking) {
			t.Errorf("%s: both refuse, for different findings\n  scan:      %q\n  admission: %q", ref, w.blocking, got.blocking)
		}
	}
	t.Logf("%d of %d objects compared", compared, len(objs))
}

type verdict struct {
	// scanError is set when scan could not judge the object (it exits 2 on it).
	scanError string
	refused   bool
	blocking  []string // "check at path", sorted; nil when the refusal lists only some
}

// fixtureObjects reads every document (and List item) of a fixture, skips what does not parse
// and cluster-scoped kinds, and moves the rest into ns. Workloads without a selector get one
// from their template's labels: admission never sees an invalid object, and the selector does
// not change the verdict.
func fixtureObjects(t *testing.T, raw []byte, ns string) []*unstructured.Unstructured {
	var docs [][]byte
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		docs = [][]byte{raw}
	} else {
		for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
			docs = append(docs, []byte(d))
		}
	}
	var out []*unstructured.Unstructured
	var add func(m map[string]any)
	add = func(m map[string]any) {
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return
		}
		if strings.HasSuffix(u.GetKind(), "List") {
			items, _, _ := unstructured.NestedSlice(m, "items")
			for _, it := range items {
				if im, ok := it.(map[string]any); ok {
					add(im)
				}
			}
			return
		}
		namespaced, known := isNamespaced(u)
		if !known || !namespaced {
			t.Logf("%s %s: skipped (cluster-scoped or not served)", u.GetKind(), u.GetName())
			return
		}
		u.SetNamespace(ns)
		fillSelector(u)
		if u.GetKind() == "Pod" {
			// The API server refuses ephemeral containers on create (they come through the
			// ephemeralcontainers subresource, which TestKubectlDebug… covers); drop them on
			// both sides so the rest of the pod is still compared.
			if _, found, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "ephemeralContainers"); found {
				unstructured.RemoveNestedField(u.Object, "spec", "ephemeralContainers")
				t.Logf("Pod %s: ephemeralContainers dropped (not allowed on create)", u.GetName())
			}
		}
		out = append(out, u)
	}
	for i, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal(d, &m); err != nil {
			t.Logf("document %d: skipped, it does not parse: %v", i+1, err)
			continue
		}
		if m != nil {
			add(m)
		}
	}
	return out
}

func fillSelector(u *unstructured.Unstructured) {
	switch u.GetKind() {
	case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet":
	default:
		return
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "selector"); found {
		return
	}
	labels, _, _ := unstructured.NestedStringMap(u.Object, "spec", "template", "metadata", "labels")
	if len(labels) == 0 {
		labels = map[string]string{"e2e.outrider.dev/app": u.GetName()}
		_ = unstructured.SetNestedStringMap(u.Object, labels, "spec", "template", "metadata", "labels")
	}
	sel := map[string]any{}
	for k, v := range labels {
		sel[k] = v
	}
	_ = unstructured.SetNestedMap(u.Object, map[string]any{"matchLabels": sel}, "spec", "selector")
}

// installFixturePolicy applies the fixture's policy file to ns alone (cluster policies get
// match.namespaces=[ns] and a unique name, the default policy stops applying to ns) and returns
// the same policies as a file for scan.
func installFixturePolicy(t *testing.T, file, ns string) string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	excludeFromDefaultPolicy(t, ns)
	var forScan []string
	var names []string
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
		var p v1alpha1.ClusterSecurityPolicy // the same shape as a SecurityPolicy
		if err := yaml.UnmarshalStrict([]byte(d), &p); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if p.Kind == "" {
			continue
		}
		name := fmt.Sprintf("e2e-%s-%s", p.Name, rand.String(4))
		names = append(names, name)
		spec := p.Spec
		switch p.Kind {
		case "ClusterSecurityPolicy":
			if spec.Match == nil {
				spec.Match = &v1alpha1.MatchSpec{}
			}
			spec.Match.Namespaces = []string{ns}
			cp := &v1alpha1.ClusterSecurityPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
			createClusterPolicy(t, cp)
			forScan = append(forScan, mustYAML(t, cp))
		case "SecurityPolicy":
			createSecurityPolicy(t, ns, name, spec)
			forScan = append(forScan, mustYAML(t, &v1alpha1.SecurityPolicy{
				TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "SecurityPolicy"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec,
			}))
		default:
			t.Fatalf("%s: unexpected kind %s", file, p.Kind)
		}
	}
	// In force on every replica, and the default policy gone from ns: a privileged probe is
	// refused by our policies only (every fixture policy refuses privileged pods).
	consistently(t, 30*time.Second, 4, "the fixture's policies in force", func(ctx context.Context) (bool, error) {
		_, err := env.cs.CoreV1().Pods(ns).Create(ctx, newPod(ns, "probe", privilegedPodSpec()), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil {
			return false, nil
		}
		line := policyLine(err.Error())
		for _, n := range names {
			line = strings.ReplaceAll(line, n, "")
		}
		return strings.Trim(line, ", ") == "", nil
	})
	return writeTemp(t, "policy.yaml", strings.Join(forScan, "---\n"))
}

// exportDefaultPolicy writes the cluster's default ClusterSecurityPolicy as scan reads it, so
// both sides judge by the same document.
func exportDefaultPolicy(t *testing.T) string {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	u, err := env.dyn.Resource(cspGVR).Get(ctx, defaultPolicy, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(),
		"metadata": map[string]any{"name": u.GetName()}, "spec": u.Object["spec"]}
	return writeTemp(t, "default-policy.yaml", mustYAML(t, doc))
}

func mustYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// scanFinding is the part of `outrider scan -o json` this test reads.
type scanFinding struct {
	Check    string `json:"check"`
	Severity string `json:"severity"`
	Mode     string `json:"mode"`
	Resource struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"resource"`
	Path       string          `json:"path"`
	Suppressed json.RawMessage `json:"suppressed"`
}

// scanVerdicts scans objs with the policy file and says, by "Kind/name", which scan blocks and
// for which findings (Enforce, severity at or above high, not suppressed: the chart's failOn).
func scanVerdicts(t *testing.T, bin, policyFile string, objs []*unstructured.Unstructured) map[string]verdict {
	t.Helper()
	var docs []string
	for _, o := range objs {
		docs = append(docs, mustYAML(t, o.Object))
	}
	manifest := writeTemp(t, "manifest.yaml", strings.Join(docs, "---\n"))
	ctx := ctxFor(t, time.Minute)
	cmd := exec.CommandContext(ctx, bin, "scan", "-o", "json", "--policy", policyFile, manifest)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	// 1: something blocks; 2: an input could not be read (the others are still reported).
	if err != nil && !(errors.As(err, &exit) && (exit.ExitCode() == 1 || exit.ExitCode() == 2)) {
		t.Fatalf("outrider scan: %v\n%s", err, stderr.String())
	}
	var out struct {
		Findings []scanFinding `json:"findings"`
		Errors   []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("reading scan output: %v\n%s", err, stdout.String())
	}
	v := map[string]verdict{}
	for _, e := range out.Errors {
		m := scanErrorObject.FindStringSubmatch(e.Message)
		if m == nil {
			t.Fatalf("outrider scan reported an error for no object: %s", e.Message)
		}
		v[m[1]+"/"+m[2]] = verdict{scanError: e.Message}
	}
	for _, f := range out.Findings {
		key := f.Resource.Kind + "/" + f.Resource.Name
		suppressed := len(f.Suppressed) > 0 && string(f.Suppressed) != "null"
		if f.Mode != string(v1alpha1.ModeEnforce) || suppressed || (f.Severity != "critical" && f.Severity != "high") {
			continue
		}
		cur := v[key]
		cur.refused = true
		cur.blocking = append(cur.blocking, f.Check+" at "+f.Path)
		v[key] = cur
	}
	for k, cur := range v {
		sort.Strings(cur.blocking)
		v[k] = cur
	}
	return v
}

var scanErrorObject = regexp.MustCompile(`^(\w+) [^/\s]+/(\S+?): `)

var refusalLine = regexp.MustCompile(`(?m)^\s+\[([^\]]+)\] \w+: .* \(at ([^()]*)\)$`)

// refusalFindings reads "check at path" from each finding a refusal lists; nil when the refusal
// lists only some of them.
func refusalFindings(msg string) []string {
	if strings.Contains(msg, "… and ") {
		return nil
	}
	var out []string
	for _, m := range refusalLine.FindAllStringSubmatch(msg, -1) {
		out = append(out, m[1]+" at "+m[2])
	}
	sort.Strings(out)
	return out
}

// policyLine is the refusal's "policy: a, b" list.
func policyLine(msg string) string {
	i := strings.LastIndex(msg, "\n  policy: ")
	if i < 0 {
		return "?"
	}
	return strings.TrimSpace(msg[i+len("\n  policy: "):])
}
