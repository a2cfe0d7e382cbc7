package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// t0 is an arbitrary fixed start; every test moves a fakeClock from here and never sleeps.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestCA builds a CA on a fake clock; mutate adjusts the config first.
func newTestCA(t testing.TB, mutate func(*Config)) (*CA, *fakeClock) {
	t.Helper()
	clk := newClock()
	cfg := Config{Now: clk.Now}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, clk
}

func p256(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ed(t testing.TB) crypto.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// csrDER makes a CSR signed by key; mutate may add SANs or extensions.
func csrDER(t testing.TB, key crypto.Signer, mutate func(*x509.CertificateRequest)) []byte {
	t.Helper()
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "workload"}}
	if mutate != nil {
		mutate(tmpl)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func req(csr []byte) IssueRequest {
	return IssueRequest{CSR: csr, Namespace: "payments", ServiceAccount: "api"}
}

func mustIssue(t testing.TB, c *CA, r IssueRequest) *SVID {
	t.Helper()
	s, err := c.Issue(r)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return s
}

// verifyAt runs go-spiffe's verifier at a given time against a bundle.
func verifyAt(s *SVID, b *x509bundle.Bundle, at time.Time) (spiffeid.ID, error) {
	id, _, err := x509svid.Verify(s.Certificates, b, x509svid.WithTime(at))
	return id, err
}
