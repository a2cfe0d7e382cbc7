package filesource

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"

	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// recorder is a Target that remembers what it was given.
type recorder struct {
	certs     []tls.Certificate
	bundles   []*x509bundle.Bundle
	policies  []*authz.Policy
	endpoints []proxy.Endpoints
}

func (r *recorder) SetCertificate(c tls.Certificate) error { r.certs = append(r.certs, c); return nil }
func (r *recorder) SetTrustBundle(b *x509bundle.Bundle) error {
	r.bundles = append(r.bundles, b)
	return nil
}
func (r *recorder) SetPolicy(p *authz.Policy) error { r.policies = append(r.policies, p); return nil }
func (r *recorder) SetEndpoints(e proxy.Endpoints)  { r.endpoints = append(r.endpoints, e) }

func writeIdentity(t *testing.T, dir string, authority *ca.CA) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	svid, err := authority.Issue(ca.IssueRequest{CSR: csr, Namespace: "shop", ServiceAccount: "backend"})
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	write(t, dir, "cert.pem", string(svid.ChainPEM()))
	write(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	var roots []byte
	for _, r := range authority.Bundle().X509Authorities() {
		roots = append(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Raw})...)
	}
	write(t, dir, "bundle.pem", string(roots))
}

func write(t *testing.T, dir, name, content string) {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoaderAppliesChangesOnly(t *testing.T) {
	dir := t.TempDir()
	authority, err := ca.New(ca.Config{})
	if err != nil {
		t.Fatal(err)
	}
	writeIdentity(t, dir, authority)
	write(t, dir, "policy.json", `{"defaultDeny": true}`)
	write(t, dir, "endpoints.json", `{"10.201.1.2": "spiffe://cluster.local/ns/shop/sa/frontend"}`)
	r := &recorder{}
	l := New(Files{
		Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem"), Bundle: filepath.Join(dir, "bundle.pem"),
		Policy: filepath.Join(dir, "policy.json"), Endpoints: filepath.Join(dir, "endpoints.json"),
	}, r, nil)
	if err := l.Load(); err != nil {
		t.Fatal(err)
	}
	if len(r.certs) != 1 || len(r.bundles) != 1 || len(r.policies) != 1 || len(r.endpoints) != 1 {
		t.Fatalf("first load applied %d/%d/%d/%d", len(r.certs), len(r.bundles), len(r.policies), len(r.endpoints))
	}
	if r.bundles[0].TrustDomain().Name() != "cluster.local" || !r.policies[0].DefaultDeny {
		t.Errorf("bundle %v, policy %+v", r.bundles[0].TrustDomain(), r.policies[0])
	}
	// Nothing changed: nothing applied.
	if err := l.Load(); err != nil || len(r.policies) != 1 || len(r.certs) != 1 {
		t.Fatalf("second load: %v, %d policies", err, len(r.policies))
	}
	// A bad policy is reported and not applied; a good one is.
	write(t, dir, "policy.json", `{"defaultdeny": true}`)
	if err := l.Load(); err == nil || !strings.Contains(err.Error(), "policy") || len(r.policies) != 1 {
		t.Fatalf("bad policy: %v, %d policies", err, len(r.policies))
	}
	write(t, dir, "policy.json", `{"permissive": true}`)
	if err := l.Load(); err != nil || len(r.policies) != 2 || !r.policies[1].Permissive {
		t.Fatalf("new policy: %v, %d policies", err, len(r.policies))
	}
	// A rotated certificate is applied.
	writeIdentity(t, dir, authority)
	if err := l.Load(); err != nil || len(r.certs) != 2 {
		t.Fatalf("rotation: %v, %d certificates", err, len(r.certs))
	}
}
