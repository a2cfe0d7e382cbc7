package provenance

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestVerifyAcceptsTheSignedPod(t *testing.T) {
	ci := newSigner(t, "ci-2025")
	keys := Keys{ci.id: ci.pub}
	for name, pod := range map[string]*corev1.Pod{
		"before the containers start": ci.annotate(t, signedPod(), "pipeline", "ci.example"),
		"running":                     running(ci.annotate(t, signedPod(), "pipeline", "ci.example")),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Verify(pod, keys)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff([]string{"ci.example", "pipeline"}, got); diff != "" {
				t.Errorf("authorities (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVerifyRefusesForgeries attacks the annotation as a user who can create and edit pods but
// holds no signing key: every attempt must yield no provenance, with the reason.
func TestVerifyRefusesForgeries(t *testing.T) {
	ci := newSigner(t, "ci-2025")
	other := newSigner(t, "ci-2025") // same key ID, another key
	keys := Keys{ci.id: ci.pub}
	signed := func() *corev1.Pod { return running(ci.annotate(t, signedPod(), "pipeline")) }

	attacks := []struct {
		name string
		pod  func() *corev1.Pod
		want error
	}{
		{"attack-edited-annotation-adds-authority", func() *corev1.Pod {
			p := signed()
			p.Annotations[Annotation] = strings.Replace(p.Annotations[Annotation], ";pipeline;", ";payments-approved,pipeline;", 1)
			return p
		}, ErrSignature},
		{"attack-edited-annotation-swaps-authority", func() *corev1.Pod {
			p := signed()
			p.Annotations[Annotation] = strings.Replace(p.Annotations[Annotation], ";pipeline;", ";release;", 1)
			return p
		}, ErrSignature},
		{"attack-copied-to-pod-with-other-images", func() *corev1.Pod {
			p := running(signedPod())
			p.Spec.Containers[0].Image = "evil.example/miner@" + digest('e')
			p.Status.ContainerStatuses[0].ImageID = "evil.example/miner@" + digest('e')
			p.Annotations[Annotation] = signed().Annotations[Annotation]
			return p
		}, ErrSignature},
		{"attack-copied-to-other-serviceaccount", func() *corev1.Pod {
			p := signedPod()
			p.Spec.ServiceAccountName = "admin"
			p.Annotations[Annotation] = signed().Annotations[Annotation]
			return p
		}, ErrSignature},
		{"attack-copied-to-other-namespace", func() *corev1.Pod {
			p := signedPod()
			p.Namespace = "prod"
			p.Annotations[Annotation] = signed().Annotations[Annotation]
			return p
		}, ErrSignature},
		{"attack-signed-by-another-key-same-id", func() *corev1.Pod { return running(other.annotate(t, signedPod(), "pipeline")) }, ErrSignature},
		{"attack-signed-by-unknown-key-id", func() *corev1.Pod {
			return running(newSigner(t, "attacker").annotate(t, signedPod(), "pipeline"))
		}, ErrUnknownKey},
		{"attack-image-changed-after-admission", func() *corev1.Pod {
			p := signed()
			p.Spec.Containers[0].Image = "registry.example/shop/payments:1.4@" + digest('d')
			return p
		}, ErrNotRunning}, // the old container still runs the signed digest, the spec no longer names it
		{"attack-image-changed-after-admission-and-restarted", func() *corev1.Pod {
			p := signed()
			p.Spec.Containers[0].Image = "registry.example/shop/payments:1.4@" + digest('d')
			p.Status.ContainerStatuses[0].ImageID = "registry.example/shop/payments@" + digest('d')
			return p
		}, ErrSignature},
		{"attack-spec-restored-but-other-image-running", func() *corev1.Pod {
			p := signed()
			p.Status.ContainerStatuses[0].ImageID = "registry.example/shop/payments@" + digest('d')
			return p
		}, ErrNotRunning},
		{"attack-ephemeral-debug-container-added", func() *corev1.Pod {
			p := signed()
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debugger", Image: "registry.example/debug@" + digest('f')}}}
			return p
		}, ErrSignature},
		{"attack-unpinned-image", func() *corev1.Pod {
			p := signed()
			p.Spec.Containers[1].Image = "registry.example/shop/exporter:latest"
			return p
		}, ErrUnpinned},
		{"attack-runtime-reports-local-image-id-only", func() *corev1.Pod {
			p := signed()
			p.Status.ContainerStatuses[0].ImageID = digest('b')
			return p
		}, ErrNotRunning},
		{"attack-container-moved-between-lists", func() *corev1.Pod {
			p := signedPod()
			p.Spec.InitContainers = append(p.Spec.InitContainers, p.Spec.Containers[1])
			p.Spec.Containers = p.Spec.Containers[:1]
			p.Annotations[Annotation] = signed().Annotations[Annotation]
			return p
		}, ErrSignature},
		{"attack-unsorted-authorities", func() *corev1.Pod {
			p := running(ci.annotate(t, signedPod(), "a", "b"))
			p.Annotations[Annotation] = strings.Replace(p.Annotations[Annotation], ";a,b;", ";b,a;", 1)
			return p
		}, ErrMalformed},
		{"attack-missing-annotation", func() *corev1.Pod { return running(signedPod()) }, ErrNoAnnotation},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			got, err := Verify(a.pod(), keys)
			if !errors.Is(err, a.want) {
				t.Fatalf("Verify = %v, %v; want error %v", got, err, a.want)
			}
			if got != nil {
				t.Errorf("authorities %v returned with an error", got)
			}
		})
	}
}

func TestSignRefusesUnpinnedImages(t *testing.T) {
	ci := newSigner(t, "ci")
	p := signedPod()
	p.Spec.Containers[0].Image = "registry.example/shop/payments:1.4"
	if _, err := Sign(ci.priv, ci.id, p, []string{"pipeline"}); !errors.Is(err, ErrUnpinned) {
		t.Errorf("Sign = %v, want ErrUnpinned", err)
	}
}

func TestMessageIsCanonicalAndInjective(t *testing.T) {
	imgs := PodImages(&signedPod().Spec)
	reversed := []ContainerImage{imgs[2], imgs[1], imgs[0]}
	if a, b := Message("ns", "sa", imgs, []string{"b", "a", "a"}), Message("ns", "sa", reversed, []string{"a", "b"}); string(a) != string(b) {
		t.Error("the message depends on the order of containers or authorities")
	}
	// Moving bytes across a field boundary must change the message.
	pairs := [][2][]byte{
		{Message("ab", "c", nil, nil), Message("a", "bc", nil, nil)},
		{Message("n", "s", []ContainerImage{{"containers", "a", "b=c"}}, nil), Message("n", "s", []ContainerImage{{"containers", "a=b", "c"}}, nil)},
		{Message("n", "s", nil, []string{"a,b"}), Message("n", "s", nil, []string{"a", "b"})},
	}
	for i, p := range pairs {
		if string(p[0]) == string(p[1]) {
			t.Errorf("pair %d: different inputs give the same message", i)
		}
	}
}

func TestParseKeys(t *testing.T) {
	ci := newSigner(t, "ci")
	pemKey := pemPublic(t, ci.pub)
	keys, err := ParseKeys(map[string]string{"ci.pub": pemKey, "README": "ignored", "bad id!.pub": pemKey, "broken.pub": "nope"})
	if err == nil || !strings.Contains(err.Error(), "broken.pub") || !strings.Contains(err.Error(), "bad id!.pub") {
		t.Errorf("ParseKeys error = %v, want both bad entries named", err)
	}
	if len(keys) != 1 || !keys["ci"].Equal(ci.pub) {
		t.Errorf("keys = %v, want only ci", keys)
	}
}
