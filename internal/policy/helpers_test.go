package policy

import (
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/workload"
)

// compliantPodYAML meets Pod Security Standards restricted and every default-on check.
const compliantPodYAML = `
apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: app, labels: {app: ok}}
spec:
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 10001, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: registry.example.com/app:1.0
    resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 128Mi}}
    securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
`

// decodeOne decodes a manifest that must hold exactly one object.
func decodeOne(t testing.TB, manifest string) *workload.Object {
	t.Helper()
	objs, errs := workload.Decode("test.yaml", []byte(manifest))
	if len(errs) > 0 {
		t.Fatalf("decoding: %v", errs[0])
	}
	if len(objs) != 1 {
		t.Fatalf("decoded %d objects, want 1", len(objs))
	}
	return objs[0]
}

// podWith returns the compliant pod changed by mutate, re-encoded so it goes through the
// real decoder.
func podWith(t testing.TB, mutate func(*corev1.Pod)) *workload.Object {
	t.Helper()
	var pod corev1.Pod
	if err := yaml.Unmarshal([]byte(compliantPodYAML), &pod); err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&pod)
	}
	data, err := json.Marshal(&pod)
	if err != nil {
		t.Fatal(err)
	}
	return decodeOne(t, string(data))
}

// compile builds a policy from YAML spec text.
func compile(t testing.TB, specYAML string) *Policy {
	t.Helper()
	var spec v1alpha1.SecurityPolicySpec
	if err := yaml.UnmarshalStrict([]byte(specYAML), &spec); err != nil {
		t.Fatalf("spec: %v", err)
	}
	p, err := Compile("test", "", &spec)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// evaluate runs policies on obj in namespace "app".
func evaluate(obj *workload.Object, policies ...*Policy) []Finding {
	return NewEngine(policies, func() time.Time { return testNow }).Evaluate(obj, Namespace{Name: "app", Labels: map[string]string{"team": "a"}})
}

// checksOf lists "check@path" of unsuppressed findings for compact comparisons.
func checksOf(fs []Finding, only string) []string {
	var out []string
	for _, f := range fs {
		if f.Suppressed != nil || (only != "" && f.Check != only) {
			continue
		}
		out = append(out, f.Check+"@"+f.Path)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
