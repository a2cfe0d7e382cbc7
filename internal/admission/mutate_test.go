package admission

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/outrider-sec/outrider/internal/mesh/inject"
	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/workload"
)

func meshConfig() *inject.Config {
	return &inject.Config{Image: "127.0.0.1:5000/outrider@sha256:" + strings.Repeat("ab", 32), IdentityAddress: "10.96.0.20:15012",
		BundleConfigMap: "outrider-trust-bundle", ProxyResources: inject.DefaultResources("10m", "32Mi", "128Mi"),
		CaptureResources: inject.DefaultResources("10m", "16Mi", "64Mi")}
}

const meshedPod = `
apiVersion: v1
kind: Pod
metadata: {name: w, namespace: shop, annotations: {ANN}}
spec:
  securityContext: {runAsUser: 1000, runAsGroup: 1000}
  containers:
  - name: app
    image: "registry.example.com/app@sha256:` + "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd" + `"
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`

func podRequest(t *testing.T, annotations string) *admissionv1.AdmissionRequest {
	t.Helper()
	req := request(t, admissionv1.Create, strings.Replace(meshedPod, "ANN", annotations, 1), "")
	req.Kind = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	return req
}

func TestMutateDeciderInjectsMeshedPods(t *testing.T) {
	cases := []struct {
		name        string
		nsLabel     string
		annotations string
		want        bool
	}{
		{"namespace meshed", "enabled", "", true},
		{"namespace optional, pod asks", "optional", `security.outrider.dev/mesh: enabled`, true},
		{"namespace optional, pod silent", "optional", "", false},
		{"namespace not meshed, pod asks", "", `security.outrider.dev/mesh: enabled`, false},
		{"opted out", "enabled", `security.outrider.dev/inject: "false"`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &MutateDecider{Engines: engineOf(t, "{}"), Namespaces: fakeNamespaces{"shop": {policy.MeshLabel: c.nsLabel}}, Mesh: meshConfig()}
			req := podRequest(t, c.annotations)
			dec, err := d.Decide(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if !c.want {
				if len(dec.Patches) != 0 {
					t.Fatalf("patched: %+v", dec.Patches)
				}
				return
			}
			obj := applyPatches(t, req, dec)
			spec := obj.Template.Spec
			if len(spec.InitContainers) != 2 || spec.InitContainers[0].Name != inject.CaptureContainer || spec.InitContainers[1].Name != inject.ProxyContainer {
				t.Fatalf("init containers after injection: %+v", spec.InitContainers)
			}
			if obj.Template.Meta.Annotations[inject.StatusAnnotation] != inject.Version {
				t.Error("no injection status annotation")
			}
			// Re-admission (reinvocation) of the injected pod injects nothing more.
			again := *req
			again.Object.Raw = mustJSON(t, obj)
			dec2, err := d.Decide(context.Background(), &again)
			if err != nil || len(dec2.Patches) != 0 {
				t.Fatalf("second pass patched %+v (%v)", dec2.Patches, err)
			}
		})
	}
}

// The injected pod passes the validating webhook (the injector's own containers are exempt);
// the same pod with its proxy tampered with does not.
func TestInjectedPodIsAdmittedAndForgeriesAreNot(t *testing.T) {
	mesh := meshConfig()
	ns := fakeNamespaces{"shop": {policy.MeshLabel: policy.MeshEnabled}}
	m := &MutateDecider{Engines: engineOf(t, "{podSecurity: {level: baseline}}"), Namespaces: ns, Mesh: mesh}
	req := podRequest(t, "")
	dec, err := m.Decide(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	injected := applyPatches(t, req, dec)
	v := &WorkloadDecider{Engines: engineOf(t, "{podSecurity: {level: baseline}}"), Namespaces: ns, Mesh: mesh, FailOn: policy.SeverityHigh}
	vreq := *req
	vreq.Object.Raw = mustJSON(t, injected)
	got, err := v.Decide(context.Background(), &vreq)
	if err != nil || !got.Allowed {
		t.Fatalf("the injected pod was refused: %+v %v", got, err)
	}
	injected.Template.Spec.InitContainers[0].Args = []string{"capture", "--dry-run"}
	vreq.Object.Raw = mustJSON(t, injected)
	got, err = v.Decide(context.Background(), &vreq)
	if err != nil || got.Allowed || !strings.Contains(got.Message, "mesh.reservedNames") {
		t.Fatalf("a tampered capture container was admitted: %+v %v", got, err)
	}
}

func TestOptOutOnlyForAllowedUsers(t *testing.T) {
	ns := fakeNamespaces{"shop": {policy.MeshLabel: policy.MeshEnabled}}
	v := &WorkloadDecider{Engines: engineOf(t, "{podSecurity: {level: privileged}}"), Namespaces: ns, Mesh: meshConfig(),
		FailOn: policy.SeverityHigh, OptOut: OptOut{Groups: []string{"mesh-admins"}}}
	for _, c := range []struct {
		user   authnv1.UserInfo
		admits bool
	}{
		{authnv1.UserInfo{Username: "dev", Groups: []string{"developers"}}, false},
		{authnv1.UserInfo{Username: "ops", Groups: []string{"mesh-admins"}}, true},
		{authnv1.UserInfo{Username: "system:serviceaccount:kube-system:replicaset-controller"}, true},
	} {
		req := podRequest(t, `security.outrider.dev/inject: "false"`)
		req.UserInfo = c.user
		dec, err := v.Decide(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if dec.Allowed != c.admits {
			t.Errorf("%s opting out: allowed %v, want %v (%s)", c.user.Username, dec.Allowed, c.admits, dec.Message)
		}
		if !c.admits && !strings.Contains(dec.Message, "may not do that") {
			t.Errorf("refusal does not say why: %s", dec.Message)
		}
	}
}

// mustJSON re-encodes a decoded pod with its (possibly changed) spec and metadata.
func mustJSON(t *testing.T, obj *workload.Object) []byte {
	t.Helper()
	var pod corev1.Pod
	if err := json.Unmarshal(obj.JSON, &pod); err != nil {
		t.Fatal(err)
	}
	pod.Spec = *obj.Template.Spec
	pod.ObjectMeta = *obj.Template.Meta
	js, err := json.Marshal(&pod)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
