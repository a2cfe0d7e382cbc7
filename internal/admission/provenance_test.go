package admission

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/outrider-sec/outrider/internal/identity/provenance"
	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/imagetrust"
	imgregistry "github.com/outrider-sec/outrider/internal/imagetrust/registry"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
	"github.com/outrider-sec/outrider/internal/policy"
)

// verifierFacts gathers registry data with the image-trust front end, as the controller does.
type verifierFacts struct{ v *imagetrust.Verifier }

func (f verifierFacts) ImageData(ctx context.Context, refs []imageref.Reference, _ PullContext) policy.ImageData {
	return &imagetrust.Data{Registry: f.v.Gather(ctx, refs, nil, false)}
}

type testSigner struct {
	id  string
	key ed25519.PrivateKey
}

func (s testSigner) Sign(pod *corev1.Pod, authorities []string) (string, error) {
	return provenance.Sign(s.key, s.id, pod, authorities)
}

// TestMeshedPodGetsProvenanceOnlyForVerifiedCode: the mutating webhook claims, for a meshed
// pod whose every image a trusted authority signed, those authorities; an unsigned image gets
// no claim, and an annotation the author wrote is dropped, never passed on.
func TestMeshedPodGetsProvenanceOnlyForVerifiedCode(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	push := func(repo string) name.Digest {
		img, _ := random.Image(64, 1)
		ref, err := name.NewTag(host + "/" + repo + ":v1")
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		h, _ := img.Digest()
		return ref.Context().Digest(h.String())
	}
	priv, pub, _ := signature.GenerateKeyPair()
	ci, _ := signature.LoadPrivateKey(priv, nil)
	signed, unsigned := push("app"), push("app2")
	if err := signature.Sign(context.Background(), signed, ci); err != nil {
		t.Fatal(err)
	}
	_, provKey, _ := ed25519.GenerateKey(rand.Reader)
	signer := testSigner{id: "0123456789abcdef", key: provKey}
	keys := provenance.Keys{signer.id: provKey.Public().(ed25519.PublicKey)}

	spec := fmt.Sprintf("{images: {signatures: [{images: [%q], authorities: [{name: ci, key: {pem: %q}}]}]}}", host+"/**", string(pub))
	v := imagetrust.NewVerifier(imagetrust.Config{Client: imgregistry.New(imgregistry.Options{})})
	d := &MutateDecider{Engines: engineOf(t, spec), Namespaces: fakeNamespaces{"shop": {policy.MeshLabel: policy.MeshEnabled}},
		Resolver: verifierResolver{v}, Mesh: meshConfig(), Images: verifierFacts{v}, Provenance: signer}

	for _, c := range []struct {
		name, image string
		forged      bool
		want        []string
	}{
		{"signed image", signed.Context().Tag("v1").String(), false, []string{"ci"}},
		{"unsigned image", unsigned.Context().Tag("v1").String(), false, nil},
		{"unsigned image with a forged claim", unsigned.String(), true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			pod := corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
				ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "shop"},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: c.image}}}}
			if c.forged {
				pod.Annotations = map[string]string{provenance.Annotation: "v1;0123456789abcdef;ci;AAAA"}
			}
			raw, _ := json.Marshal(&pod)
			req := &admissionv1.AdmissionRequest{Operation: admissionv1.Create, Namespace: "shop", Name: "w",
				Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}}
			req.Object.Raw = raw
			dec, err := d.Decide(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			out := applyPatches(t, req, dec)
			var got corev1.Pod
			if err := json.Unmarshal(mustJSON(t, out), &got); err != nil {
				t.Fatal(err)
			}
			got.Namespace = "shop"
			authorities, err := provenance.Verify(&got, keys)
			if c.want == nil {
				if _, present := got.Annotations[provenance.Annotation]; present {
					t.Fatalf("a claim was left on the pod: %q (%v)", got.Annotations[provenance.Annotation], err)
				}
				return
			}
			if err != nil || !slices.Equal(authorities, c.want) {
				t.Fatalf("provenance %v (%v), want %v", authorities, err, c.want)
			}
		})
	}
}
