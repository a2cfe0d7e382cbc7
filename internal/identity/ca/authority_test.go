package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// selfSigned makes an operator-style root with the given key, generated at test time.
func selfSigned(t *testing.T, key crypto.Signer, mutate func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	tmpl := caTemplate(spiffeid.RequireTrustDomainFromString("example.org"), "Acme root", t0, t0.Add(5*365*24*time.Hour))
	if mutate != nil {
		mutate(tmpl)
	}
	cert, err := sign(tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func pemOf(t *testing.T, cert *x509.Certificate, key crypto.Signer) (certPEM, keyPEM []byte) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestUserProvidedRoots(t *testing.T) {
	rsaKey := func(bits int) crypto.Signer {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	tests := []struct {
		name    string
		key     crypto.Signer
		mutate  func(*x509.Certificate)
		wantErr error
	}{
		{"ECDSA P-256", p256(t), nil, nil},
		{"ECDSA P-384", p384, nil, nil},
		{"Ed25519", ed(t), nil, nil},
		{"RSA 2048", rsaKey(2048), nil, nil},
		{"RSA 1024", rsaKey(1024), nil, ErrUnsupportedKey},
		{"ECDSA P-224", p224, nil, ErrUnsupportedKey},
		{"not a CA", p256(t), func(c *x509.Certificate) { c.IsCA = false }, ErrInvalidAuthority},
		{"no certSign", p256(t), func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature }, ErrInvalidAuthority},
		{"path length 0", p256(t), func(c *x509.Certificate) { c.MaxPathLenZero = true }, ErrInvalidAuthority},
		{"expired", p256(t), func(c *x509.Certificate) { c.NotAfter = t0.Add(-time.Second) }, ErrCAExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, keyPEM := pemOf(t, selfSigned(t, tt.key, tt.mutate), tt.key)
			a, err := ParseAuthority(certPEM, keyPEM, nil, nil)
			if err == nil {
				_, err = New(Config{Now: newClock().Now, Authority: a})
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			c, _ := New(Config{Now: newClock().Now, Authority: a})
			s := mustIssue(t, c, req(csrDER(t, p256(t), nil)))
			if !chainsTo(t, s, a.Root) {
				t.Error("leaf does not chain to the provided root")
			}
		})
	}
}

func TestParseAuthorityErrors(t *testing.T) {
	key := p256(t)
	certPEM, keyPEM := pemOf(t, selfSigned(t, key, nil), key)
	_, otherKeyPEM := pemOf(t, selfSigned(t, key, nil), p256(t))
	secret := string(keyPEM)
	tests := map[string][4][]byte{
		"no root":            {nil, keyPEM, nil, nil},
		"key as cert":        {keyPEM, keyPEM, nil, nil},
		"garbage key":        {certPEM, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), nil, nil},
		"cert as key":        {certPEM, certPEM, nil, nil},
		"intermediate alone": {certPEM, keyPEM, certPEM, nil},
	}
	for name, in := range tests {
		_, err := ParseAuthority(in[0], in[1], in[2], in[3])
		if !errors.Is(err, ErrInvalidAuthority) {
			t.Errorf("%s: %v, want ErrInvalidAuthority", name, err)
		}
		if err != nil && strings.Contains(err.Error(), secret[30:60]) {
			t.Errorf("%s: error contains key material", name)
		}
	}
	a, err := ParseAuthority(certPEM, otherKeyPEM, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Now: newClock().Now, Authority: a}); !errors.Is(err, ErrInvalidAuthority) {
		t.Errorf("mismatched key: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := map[string]Config{
		"bad trust domain":       {TrustDomain: "Not A Domain"},
		"trust domain with path": {TrustDomain: "spiffe://x/y"},
		"max below min":          {MaxTTL: time.Second},
		"default above max":      {DefaultTTL: 8 * 24 * time.Hour},
		"short intermediate":     {IntermediateTTL: 10 * 24 * time.Hour},
		"root below inter":       {RootTTL: 24 * time.Hour},
		"overlap below max":      {RotationOverlap: time.Hour},
		"negative propagation":   {BundlePropagation: -time.Second},
	}
	for name, cfg := range tests {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
	c, err := New(Config{TrustDomain: "prod.example.com", Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	if id := mustIssue(t, c, req(csrDER(t, p256(t), nil))).ID.String(); id != "spiffe://prod.example.com/ns/payments/sa/api" {
		t.Errorf("ID %s", id)
	}
	short, err := New(Config{MaxTTL: time.Hour, Now: newClock().Now})
	if err != nil || short.cfg.DefaultTTL != time.Hour {
		t.Errorf("MaxTTL 1h: DefaultTTL should follow it: %v", err)
	}
	if c.Intermediate().PermittedURIDomains[0] != "prod.example.com" {
		t.Error("intermediate is not name-constrained to the trust domain")
	}
}

// TestIntermediateNameConstraints: even a stolen intermediate key cannot mint an identity in
// another trust domain that verifies against this root.
func TestIntermediateNameConstraints(t *testing.T) {
	c, clk := newTestCA(t, nil)
	a := c.state.Load().active
	other := spiffeid.RequireTrustDomainFromString("evil.example")
	id := spiffeid.RequireFromSegments(other, "ns", "x", "sa", "y")
	tmpl := &x509.Certificate{URIs: []*url.URL{id.URL()}, NotBefore: clk.Now().Add(-time.Minute), NotAfter: clk.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, Subject: pkix.Name{}}
	leaf, err := sign(tmpl, a.Intermediate, p256(t).Public(), a.IntermediateKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.Root)
	inters := x509.NewCertPool()
	inters.AddCert(a.Intermediate)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: clk.Now()}); err == nil {
		t.Error("out-of-domain leaf verified")
	}
}
