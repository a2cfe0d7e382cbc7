package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/outrider-sec/outrider/internal/identity/ca"
	pb "github.com/outrider-sec/outrider/internal/identity/identitypb"
	"github.com/outrider-sec/outrider/internal/identity/identitytest"
	"github.com/outrider-sec/outrider/internal/identity/provenance"
	"github.com/outrider-sec/outrider/internal/identity/server"
)

const digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// TestProvenanceReachesTheCertificateOnlyWhenSigned: with the controller's public key in the
// keys ConfigMap, a pod whose annotation the key signed gets a certificate naming the
// authorities; a pod whose annotation was edited gets a certificate without them, not a
// refusal.
func TestProvenanceReachesTheCertificateOnlyWhenSigned(t *testing.T) {
	h := identitytest.Start(t, func(o *server.Options) { o.MaxTTL = time.Hour; o.ProvenanceKeys = "provenance-keys" })
	h.Namespace(t, "shop", true)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	if _, err := h.Kube.CoreV1().ConfigMaps(identitytest.Namespace).Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "provenance-keys", Namespace: identitytest.Namespace},
		Data:       map[string]string{"ci.pub": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	signedPod := func(name string, edit func(string) string) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
			Spec:       corev1.PodSpec{ServiceAccountName: "payments", Containers: []corev1.Container{{Name: "app", Image: "registry.example/pay@" + digestA}}},
		}
		v, err := provenance.Sign(priv, "ci", p, []string{"pipeline"})
		if err != nil {
			t.Fatal(err)
		}
		p.Annotations = map[string]string{provenance.Annotation: edit(v)}
		created := h.Pod(t, "shop", name, "payments", "10.88.0.5", nil)
		created.Spec, created.Annotations = p.Spec, p.Annotations
		if err := h.Kube.Tracker().Update(podsGVR, created, "shop"); err != nil {
			t.Fatal(err)
		}
		return created
	}
	issue := func(p *corev1.Pod) *pb.IssueCertificateResponse {
		t.Helper()
		resp, err := pb.NewIdentityClient(h.Dial(t)).IssueCertificate(context.Background(), &pb.IssueCertificateRequest{
			Csr: csr(t, p256(t), nil), Token: h.Token(p, identitytest.Audience, time.Now().Add(10*time.Minute)),
		})
		if err != nil {
			t.Fatalf("IssueCertificate: %v", err)
		}
		return resp
	}

	good := signedPod("signed-1", func(v string) string { return v })
	var resp *pb.IssueCertificateResponse
	deadline := time.Now().Add(5 * time.Second)
	for resp = issue(good); len(resp.Provenance) == 0 && time.Now().Before(deadline); resp = issue(good) {
		time.Sleep(50 * time.Millisecond) // the keys ConfigMap reaches the service's cache
	}
	leaf, _ := x509.ParseCertificate(resp.CertificateChain[0])
	if got, err := ca.ProvenanceOf(leaf); err != nil || len(got) != 1 || got[0] != "pipeline" {
		t.Fatalf("provenance in the leaf: %v, %v; want [pipeline]", got, err)
	}

	forged := signedPod("forged-1", func(v string) string { return strings.Replace(v, ";pipeline;", ";release;", 1) })
	resp = issue(forged)
	leaf, _ = x509.ParseCertificate(resp.CertificateChain[0])
	if got, _ := ca.ProvenanceOf(leaf); got != nil || resp.Provenance != nil {
		t.Errorf("an edited annotation gave provenance %v", got)
	}
	if !strings.Contains(h.Logs.String(), `"msg":"provenance not granted"`) {
		t.Error("the refused provenance was not logged")
	}
}
