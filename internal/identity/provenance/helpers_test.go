package provenance

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func digest(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

// signedPod is a pod as admission leaves it: images pinned, not started yet.
func signedPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "payments-7d9f", Namespace: "shop", Annotations: map[string]string{}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "payments",
			InitContainers: []corev1.Container{
				{Name: "outrider-proxy", Image: "registry.example/outrider@" + digest('a')},
			},
			Containers: []corev1.Container{
				{Name: "app", Image: "registry.example/shop/payments:1.4@" + digest('b')},
				{Name: "metrics", Image: "registry.example/shop/exporter@" + digest('c')},
			},
		},
	}
}

// running marks every container started with the image ID the runtime would report.
func running(p *corev1.Pod) *corev1.Pod {
	p = p.DeepCopy()
	status := func(cs []corev1.Container) []corev1.ContainerStatus {
		var out []corev1.ContainerStatus
		for _, c := range cs {
			d, _ := digestOf(c.Image)
			repo := c.Image[:strings.IndexAny(c.Image, ":@")]
			out = append(out, corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: repo + "@" + d})
		}
		return out
	}
	p.Status.InitContainerStatuses = status(p.Spec.InitContainers)
	p.Status.ContainerStatuses = status(p.Spec.Containers)
	return p
}

type signer struct {
	id   string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func newSigner(t testing.TB, id string) signer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{id: id, priv: priv, pub: pub}
}

// annotate signs p in place and returns it.
func (s signer) annotate(t testing.TB, p *corev1.Pod, authorities ...string) *corev1.Pod {
	t.Helper()
	v, err := Sign(s.priv, s.id, p, authorities)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[Annotation] = v
	return p
}
