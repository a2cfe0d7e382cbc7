package client

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	corev1 "k8s.io/api/core/v1"

	"github.com/outrider-sec/outrider/internal/identity/identitytest"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// sink records what the client installs, as the proxy would hold it. It is also an SVID and
// bundle source, so tests can handshake with what a proxy would present and trust.
type sink struct {
	mu        sync.Mutex
	certs     []tls.Certificate
	bundle    *x509bundle.Bundle
	policies  []*authz.Policy
	endpoints proxy.Endpoints
}

func (s *sink) SetCertificate(c tls.Certificate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs = append(s.certs, c)
	return nil
}

func (s *sink) SetTrustBundle(b *x509bundle.Bundle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bundle = b
	return nil
}

func (s *sink) SetPolicy(p *authz.Policy) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policies = append(s.policies, p)
	return nil
}

func (s *sink) SetEndpoints(e proxy.Endpoints) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endpoints = e
}

func (s *sink) cert() (tls.Certificate, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.certs) == 0 {
		return tls.Certificate{}, 0
	}
	return s.certs[len(s.certs)-1], len(s.certs)
}

func (s *sink) roots() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bundle == nil {
		return 0
	}
	return len(s.bundle.X509Authorities())
}

func (s *sink) lastPolicy() *authz.Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.policies) == 0 {
		return nil
	}
	return s.policies[len(s.policies)-1]
}

func (s *sink) endpointCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.endpoints)
}

// GetX509SVID implements x509svid.Source with the latest certificate.
func (s *sink) GetX509SVID() (*x509svid.SVID, error) {
	c, _ := s.cert()
	var chain []*x509.Certificate
	for _, der := range c.Certificate {
		x, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		chain = append(chain, x)
	}
	id, err := x509svid.IDFromCert(chain[0])
	if err != nil {
		return nil, err
	}
	return &x509svid.SVID{ID: id, Certificates: chain, PrivateKey: c.PrivateKey.(crypto.Signer)}, nil
}

// GetX509BundleForTrustDomain implements x509bundle.Source with the latest bundle.
func (s *sink) GetX509BundleForTrustDomain(spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bundle, nil
}

// proxyFixture is a meshed pod with a token file and the bootstrap bundle file, as the
// injector would mount them, and a client for it.
type proxyFixture struct {
	client    *Client
	sink      *sink
	pod       *corev1.Pod
	tokenFile string
	cancel    context.CancelFunc
	done      chan struct{}
}

func newProxy(t *testing.T, h *identitytest.Harness, pod *corev1.Pod, mutate func(*Config)) *proxyFixture {
	t.Helper()
	dir := t.TempDir()
	f := &proxyFixture{sink: &sink{}, pod: pod, tokenFile: filepath.Join(dir, "token"), done: make(chan struct{})}
	f.writeToken(t, h.Token(pod, identitytest.Audience, time.Now().Add(10*time.Minute)))
	bundleFile := filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(bundleFile, h.BundlePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Address: "passthrough:///" + h.Addr, ServerID: h.ServerID, TokenFile: f.tokenFile, BundleFile: bundleFile,
		Sink: f.sink, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.client = c
	return f
}

func (f *proxyFixture) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { defer close(f.done); f.client.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-f.done })
}

// writeToken replaces the token file atomically, as the kubelet does.
func (f *proxyFixture) writeToken(t *testing.T, tok string) {
	t.Helper()
	tmp := f.tokenFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.tokenFile); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
