package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestIssueLeafFields(t *testing.T) {
	c, clk := newTestCA(t, nil)
	key := p256(t)
	s := mustIssue(t, c, req(csrDER(t, key, nil)))
	leaf := s.Leaf()
	now := clk.Now()

	if got, want := s.ID.String(), "spiffe://cluster.local/ns/payments/sa/api"; got != want {
		t.Errorf("ID = %s, want %s", got, want)
	}
	if diff := cmp.Diff([]string{"spiffe://cluster.local/ns/payments/sa/api"}, urisOf(leaf)); diff != "" {
		t.Errorf("URI SANs (-want +got):\n%s", diff)
	}
	if len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses) != 0 || leaf.Subject.String() != "" {
		t.Errorf("leaf has extra names: subject %q dns %v ip %v email %v", leaf.Subject, leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %v, want digitalSignature only", leaf.KeyUsage)
	}
	if diff := cmp.Diff([]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, leaf.ExtKeyUsage); diff != "" {
		t.Errorf("ExtKeyUsage (-want +got):\n%s", diff)
	}
	if leaf.IsCA || !leaf.BasicConstraintsValid {
		t.Errorf("IsCA=%v BasicConstraintsValid=%v", leaf.IsCA, leaf.BasicConstraintsValid)
	}
	if !leaf.NotBefore.Equal(now.Add(-time.Minute)) || !leaf.NotAfter.Equal(now.Add(24*time.Hour)) {
		t.Errorf("validity %s–%s, want now-1m – now+24h", leaf.NotBefore, leaf.NotAfter)
	}
	if bits := leaf.SerialNumber.BitLen(); bits < 100 || bits > 128 || leaf.SerialNumber.Sign() <= 0 {
		t.Errorf("serial %d bits, want a positive 128-bit random number", bits)
	}
	if !keyMatches(leaf.PublicKey, key) {
		t.Error("leaf key is not the CSR key")
	}
	if !s.Certificates[1].Equal(c.Intermediate()) {
		t.Error("chain does not carry the intermediate")
	}
	if id, err := verifyAt(s, c.Bundle(), now); err != nil || id != s.ID {
		t.Errorf("x509svid.Verify = %v, %v", id, err)
	}
	if p, err := ProvenanceOf(leaf); p != nil || err != nil {
		t.Errorf("ProvenanceOf = %v, %v; want none", p, err)
	}
}

func TestIssueSerialsDiffer(t *testing.T) {
	c, _ := newTestCA(t, nil)
	csr := csrDER(t, p256(t), nil)
	a, b := mustIssue(t, c, req(csr)), mustIssue(t, c, req(csr))
	if a.Leaf().SerialNumber.Cmp(b.Leaf().SerialNumber) == 0 {
		t.Error("two leaves share a serial")
	}
}

func TestIssueKeys(t *testing.T) {
	c, _ := newTestCA(t, nil)
	rsaKey := func(bits int) crypto.Signer {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	tests := []struct {
		name    string
		key     crypto.Signer
		wantErr error
	}{
		{"ECDSA P-256", p256(t), nil},
		{"ECDSA P-384", p384, nil},
		{"Ed25519", ed(t), nil},
		{"ECDSA P-521", p521, ErrUnsupportedKey},
		{"RSA 1024", rsaKey(1024), ErrUnsupportedKey},
		{"RSA 2048", rsaKey(2048), ErrUnsupportedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := c.Issue(req(csrDER(t, tt.key, nil)))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (s != nil) {
				t.Fatalf("Issue = %v, %v; want %v", s, err, tt.wantErr)
			}
			if err == nil {
				if _, err := verifyAt(s, c.Bundle(), t0); err != nil {
					t.Errorf("verify: %v", err)
				}
			}
		})
	}
}

func TestIssueTTL(t *testing.T) {
	c, clk := newTestCA(t, func(cfg *Config) { cfg.MaxTTL = 48 * time.Hour; cfg.IntermediateTTL = 96 * time.Hour })
	csr := csrDER(t, p256(t), nil)
	tests := []struct {
		ttl     time.Duration
		want    time.Duration
		wantErr error
	}{
		{0, 24 * time.Hour, nil},
		{time.Minute, time.Minute, nil},
		{48 * time.Hour, 48 * time.Hour, nil},
		{59 * time.Second, 0, ErrTTL},
		{-time.Hour, 0, ErrTTL},
		{48*time.Hour + time.Second, 0, ErrTTL},
		{1<<63 - 1, 0, ErrTTL},
	}
	for _, tt := range tests {
		r := req(csr)
		r.TTL = tt.ttl
		s, err := c.Issue(r)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("TTL %s: err %v, want %v", tt.ttl, err, tt.wantErr)
			continue
		}
		if err == nil && s.Leaf().NotAfter.Sub(clk.Now()) != tt.want {
			t.Errorf("TTL %s: lifetime %s, want %s", tt.ttl, s.Leaf().NotAfter.Sub(clk.Now()), tt.want)
		}
	}
}

func TestIssueNeverOutlivesIntermediate(t *testing.T) {
	c, clk := newTestCA(t, func(cfg *Config) { cfg.MaxTTL = 48 * time.Hour; cfg.IntermediateTTL = 96 * time.Hour })
	clk.Advance(95 * time.Hour) // the intermediate has 1h left (it was backdated 1m)
	r := req(csrDER(t, p256(t), nil))
	r.TTL = 48 * time.Hour
	s := mustIssue(t, c, r)
	if !s.Leaf().NotAfter.Equal(c.Intermediate().NotAfter) {
		t.Errorf("leaf NotAfter %s, want the intermediate's %s", s.Leaf().NotAfter, c.Intermediate().NotAfter)
	}
	clk.Advance(time.Hour)
	if _, err := c.Issue(r); !errors.Is(err, ErrCAExpired) {
		t.Errorf("after the intermediate expired: %v, want ErrCAExpired", err)
	}
}

func TestIssueRequestValidation(t *testing.T) {
	c, _ := newTestCA(t, nil)
	good := csrDER(t, p256(t), nil)
	pemCSR := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: good})
	tampered := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name    string
		r       IssueRequest
		wantErr error
	}{
		{"DER", req(good), nil},
		{"PEM", req(pemCSR), nil},
		{"PEM with surrounding space", req(append(append([]byte("\n "), pemCSR...), "\n"...)), nil},
		{"empty CSR", req(nil), ErrInvalidCSR},
		{"garbage", req([]byte("not a csr")), ErrInvalidCSR},
		{"signature byte flipped", req(tampered(len(good) - 1)), ErrInvalidCSR},
		{"subject byte flipped", req(tampered(40)), ErrInvalidCSR},
		{"truncated", req(good[:len(good)-5]), ErrInvalidCSR},
		{"trailing data", req(append(append([]byte(nil), good...), 0)), ErrInvalidCSR},
		{"wrong PEM type", req(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: good})), ErrInvalidCSR},
		{"two PEM blocks", req(append(append([]byte(nil), pemCSR...), pemCSR...)), ErrInvalidCSR},
		{"huge", req(make([]byte, maxCSRSize+1)), ErrInvalidCSR},
		{"bad namespace", IssueRequest{CSR: good, Namespace: "../x", ServiceAccount: "api"}, ErrInvalidName},
		{"bad provenance", IssueRequest{CSR: good, Namespace: "a", ServiceAccount: "b", Provenance: []string{""}}, ErrInvalidProvenance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := c.Issue(tt.r)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (s != nil) {
				t.Errorf("Issue = %v, %v; want %v", s, err, tt.wantErr)
			}
		})
	}
}

// TestIssueIgnoresCSRRequests: names, CA flags and extensions asked for in the CSR never
// reach the certificate.
func TestIssueIgnoresCSRRequests(t *testing.T) {
	c, _ := newTestCA(t, nil)
	basicCA, _ := asn1.Marshal(struct {
		IsCA bool
	}{true})
	evil, _ := url.Parse("spiffe://cluster.local/ns/kube-system/sa/admin")
	csr := csrDER(t, p256(t), func(r *x509.CertificateRequest) {
		r.Subject = pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}}
		r.DNSNames = []string{"payments.svc", "*.example.com"}
		r.IPAddresses = []net.IP{net.ParseIP("10.0.0.1")}
		r.EmailAddresses = []string{"root@example.com"}
		r.URIs = []*url.URL{evil}
		r.ExtraExtensions = []pkix.Extension{
			{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: basicCA},
			{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}},
		}
	})
	leaf := mustIssue(t, c, req(csr)).Leaf()
	if diff := cmp.Diff([]string{"spiffe://cluster.local/ns/payments/sa/api"}, urisOf(leaf)); diff != "" {
		t.Errorf("URI SANs (-want +got):\n%s", diff)
	}
	if leaf.IsCA || len(leaf.DNSNames) > 0 || len(leaf.IPAddresses) > 0 || len(leaf.EmailAddresses) > 0 || leaf.Subject.CommonName != "" || len(leaf.Subject.Organization) > 0 {
		t.Errorf("CSR content leaked into the leaf: %+v", leaf.Subject)
	}
	for _, e := range leaf.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{1, 2, 3, 4}) {
			t.Error("CSR extension copied into the leaf")
		}
	}
}

func urisOf(c *x509.Certificate) []string {
	var out []string
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	return out
}
