package admission

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	jsonpatchapply "github.com/evanphx/json-patch"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/imagetrust"
	imgregistry "github.com/outrider-sec/outrider/internal/imagetrust/registry"
	"github.com/outrider-sec/outrider/internal/workload"
)

// verifierResolver resolves with the image-trust front end, as the controller does.
type verifierResolver struct{ v *imagetrust.Verifier }

func (r verifierResolver) ResolveDigest(ctx context.Context, ref imageref.Reference, _ PullContext) (string, error) {
	return r.v.Digest(ctx, ref, nil)
}

// pinRegistry is a registry on loopback holding app:v1, and a decider resolving against it.
func pinRegistry(t *testing.T, policySpec string) (host, digest string, d *MutateDecider) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	h, _ := img.Digest()
	v := imagetrust.NewVerifier(imagetrust.Config{Client: imgregistry.New(imgregistry.Options{})})
	return host, h.String(), &MutateDecider{Engines: engineOf(t, policySpec), Namespaces: fakeNamespaces{"shop": {}}, Resolver: verifierResolver{v}}
}

// applyPatches applies a decision's patches to the request's object and decodes the result.
func applyPatches(t *testing.T, req *admissionv1.AdmissionRequest, dec *Decision) *workload.Object {
	t.Helper()
	patch, err := json.Marshal(dec.Patches)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatchapply.DecodePatch(patch)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply(req.Object.Raw)
	if err != nil {
		t.Fatalf("the patch does not apply: %v\n%s", err, patch)
	}
	obj, err := workload.DecodeObject("patched", out)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestMutateDeciderPinsEveryContainerList(t *testing.T) {
	host, digest, d := pinRegistry(t, "{}")
	manifest := `
apiVersion: batch/v1
kind: CronJob
metadata: {name: w, namespace: shop}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          initContainers: [{name: init, image: HOST/app:v1}]
          containers:
          - {name: a, image: HOST/app:v1}
          - {name: pinned, image: HOST/app@DIGEST}
          - {name: missing, image: HOST/app:v9}
`
	manifest = strings.NewReplacer("HOST", host, "DIGEST", digest).Replace(manifest)
	req := request(t, admissionv1.Create, manifest, "")
	dec, err := d.Decide(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !dec.Allowed {
		t.Fatal("the mutating webhook refused")
	}
	if len(dec.Patches) != 2 {
		t.Fatalf("patches %+v, want the two tags that resolve", dec.Patches)
	}
	obj := applyPatches(t, req, dec)
	spec := obj.Template.Spec
	want := host + "/app:v1@" + digest
	if spec.InitContainers[0].Image != want || spec.Containers[0].Image != want {
		t.Errorf("images after the patch: init %q, a %q; want %q", spec.InitContainers[0].Image, spec.Containers[0].Image, want)
	}
	if spec.Containers[1].Image != host+"/app@"+digest {
		t.Errorf("a pinned image changed: %q", spec.Containers[1].Image)
	}
	if len(dec.Warnings) != 1 || !strings.Contains(dec.Warnings[0], "spec.jobTemplate.spec.template.spec.containers[2]") ||
		!strings.Contains(dec.Warnings[0], host) || !strings.Contains(dec.Warnings[0], "was not pinned") {
		t.Errorf("warnings %q, want one naming the container, the registry and what happened", dec.Warnings)
	}
}

func TestMutateDeciderPinsEphemeralContainers(t *testing.T) {
	host, digest, d := pinRegistry(t, "{}")
	manifest := strings.ReplaceAll(`
apiVersion: v1
kind: Pod
metadata: {name: w, namespace: shop}
spec:
  containers: [{name: a, image: HOST/app@DIGEST}]
  ephemeralContainers: [{name: debug, image: HOST/app:v1}]
`, "HOST", host)
	manifest = strings.ReplaceAll(manifest, "DIGEST", digest)
	req := request(t, admissionv1.Update, manifest, "")
	req.SubResource = "ephemeralcontainers"
	dec, err := d.Decide(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := applyPatches(t, req, dec).Template.Spec.EphemeralContainers[0].Image; got != host+"/app:v1@"+digest {
		t.Errorf("ephemeral container image %q, want it pinned", got)
	}
}

func TestMutateDeciderLeavesWhatItShould(t *testing.T) {
	deployment := func(image string) string {
		return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: w, namespace: shop}
spec:
  selector: {matchLabels: {app: w}}
  template:
    metadata: {labels: {app: w}}
    spec: {containers: [{name: a, image: "` + image + `"}]}
`
	}
	t.Run("policy turns pinning off", func(t *testing.T) {
		host, _, d := pinRegistry(t, "{images: {pinDigests: false}}")
		dec, err := d.Decide(context.Background(), request(t, admissionv1.Create, deployment(host+"/app:v1"), ""))
		if err != nil || len(dec.Patches) != 0 {
			t.Fatalf("patches %+v, err %v; want none", dec.Patches, err)
		}
	})
	t.Run("update keeps a running image", func(t *testing.T) {
		host, _, d := pinRegistry(t, "{}")
		m := deployment(host + "/app:v1")
		dec, err := d.Decide(context.Background(), request(t, admissionv1.Update, m, m))
		if err != nil || len(dec.Patches) != 0 {
			t.Fatalf("patches %+v, err %v; want none: an update that leaves the image must not restart pods", dec.Patches, err)
		}
	})
	t.Run("update that changes the image pins it", func(t *testing.T) {
		host, digest, d := pinRegistry(t, "{}")
		req := request(t, admissionv1.Update, deployment(host+"/app:v1"), deployment(host+"/app:v0"))
		dec, err := d.Decide(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if got := applyPatches(t, req, dec).Template.Spec.Containers[0].Image; got != host+"/app:v1@"+digest {
			t.Errorf("image %q, want pinned", got)
		}
	})
}

func TestJSONPointer(t *testing.T) {
	for in, want := range map[string]string{
		"spec.containers[0]":                                "/spec/containers/0",
		"spec.template.spec.initContainers[12]":             "/spec/template/spec/initContainers/12",
		"spec.jobTemplate.spec.template.spec.containers[1]": "/spec/jobTemplate/spec/template/spec/containers/1",
	} {
		if got := jsonPointer(in); got != want {
			t.Errorf("jsonPointer(%q) = %q, want %q", in, got, want)
		}
	}
}
