package servingcert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(t *testing.T) (*fake.Clientset, *clock, func() *Manager) {
	t.Helper()
	client := fake.NewClientset(
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "v"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "a.outrider.dev"}, {Name: "b.outrider.dev"}}},
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "m"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "c.outrider.dev"}}},
	)
	c := &clock{time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	replica := func() *Manager {
		return New(client, Config{Namespace: "outrider-system", SecretName: "cert", ServiceName: "outrider-webhook",
			ValidatingWebhooks: []string{"v"}, MutatingWebhooks: []string{"m"}, Now: c.now},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	return client, c, replica
}

// verify checks that m serves a leaf the published caBundle trusts, for the Service name, at now.
func verify(t *testing.T, client *fake.Clientset, m *Manager, now time.Time) *x509.Certificate {
	t.Helper()
	cert, err := m.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	v, _ := client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(context.Background(), "v", metav1.GetOptions{})
	mu, _ := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(context.Background(), "m", metav1.GetOptions{})
	bundles := [][]byte{v.Webhooks[0].ClientConfig.CABundle, v.Webhooks[1].ClientConfig.CABundle, mu.Webhooks[0].ClientConfig.CABundle}
	for _, b := range bundles {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			t.Fatal("a webhook has no caBundle")
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "outrider-webhook.outrider-system.svc", CurrentTime: now}); err != nil {
			t.Fatalf("the API server would not trust the served certificate: %v", err)
		}
	}
	return leaf
}

func TestIssueServeAndInject(t *testing.T) {
	client, c, replica := setup(t)
	m := replica()
	if m.Ready() == nil {
		t.Fatal("ready before any sync")
	}
	if err := m.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Ready(); err != nil {
		t.Fatal(err)
	}
	verify(t, client, m, c.t)
}

// Replicas share one certificate: the second reads the first one's Secret.
func TestReplicasShareTheCertificate(t *testing.T) {
	client, c, replica := setup(t)
	a, b := replica(), replica()
	for _, m := range []*Manager{a, b} {
		if err := m.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	la, lb := verify(t, client, a, c.t), verify(t, client, b, c.t)
	if la.SerialNumber.Cmp(lb.SerialNumber) != 0 {
		t.Error("replicas serve different certificates")
	}
}

// The leaf is renewed once two thirds of its life have passed, before it expires, and the
// renewed leaf is trusted without a caBundle change. Time is moved, not slept.
func TestRotatesBeforeExpiry(t *testing.T) {
	client, c, replica := setup(t)
	m := replica()
	if err := m.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := verify(t, client, m, c.t)

	c.t = c.t.Add(4 * 24 * time.Hour) // 4 of 7 days: not yet
	if err := m.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if verify(t, client, m, c.t).SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatal("renewed too early")
	}
	c.t = c.t.Add(24 * time.Hour) // 5 of 7 days: less than a third left
	if err := m.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := verify(t, client, m, c.t)
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("not renewed with less than a third of its life left")
	}
	if !second.NotAfter.After(first.NotAfter) {
		t.Error("the renewed certificate does not outlive the old one")
	}
}

// A Secret someone damaged is replaced, not served.
func TestCorruptSecretIsReissued(t *testing.T) {
	client, c, replica := setup(t)
	m := replica()
	if err := m.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	sec, _ := client.CoreV1().Secrets("outrider-system").Get(context.Background(), "cert", metav1.GetOptions{})
	sec.Data["tls.crt"] = []byte("garbage")
	if _, err := client.CoreV1().Secrets("outrider-system").Update(context.Background(), sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	verify(t, client, m, c.t)
}

func TestMissingWebhookConfigurationIsNotReady(t *testing.T) {
	_, _, replica := setup(t)
	m := replica()
	m.cfg.ValidatingWebhooks = []string{"absent"}
	if err := m.Sync(context.Background()); err == nil {
		t.Fatal("sync succeeded without the webhook configuration")
	}
	if m.Ready() == nil {
		t.Fatal("ready although the API server cannot trust the webhook")
	}
	if _, err := m.GetCertificate(nil); err != nil {
		t.Errorf("the certificate should still be served: %v", err)
	}
}
