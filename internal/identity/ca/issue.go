package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// IssueRequest asks for one workload certificate. The caller (the identity service) has
// already authenticated the workload; the CA validates the request's shape, not its truth.
type IssueRequest struct {
	// CSR in DER or PEM. Only its public key is used, after its signature is verified.
	CSR []byte
	// Namespace (a DNS-1123 label) and ServiceAccount (a DNS-1123 subdomain) of the workload.
	Namespace      string
	ServiceAccount string
	// TTL of the certificate: 0 means Config.DefaultTTL; otherwise within [MinTTL, MaxTTL].
	TTL time.Duration
	// Provenance names the signing authorities verified for the pod's images, taken by the
	// caller from a record workloads cannot write. Empty means no provenance extension.
	Provenance []string
}

// SVID is an issued X509-SVID. The CA never sees the private key.
type SVID struct {
	ID spiffeid.ID
	// Certificates is the chain to present: the leaf, then the intermediate.
	Certificates []*x509.Certificate
	// Provenance as encoded in the leaf (sorted, deduplicated), nil when absent.
	Provenance []string
}

// Leaf returns the workload certificate.
func (s *SVID) Leaf() *x509.Certificate { return s.Certificates[0] }

// ChainPEM returns the chain as PEM, leaf first.
func (s *SVID) ChainPEM() []byte {
	var out []byte
	for _, c := range s.Certificates {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// Issue validates req and signs a leaf for its workload. Every field of the certificate is
// decided here; the CSR contributes the public key only, so SANs, extensions, CA flags or
// provenance it asks for are ignored.
func (c *CA) Issue(req IssueRequest) (*SVID, error) {
	id, err := WorkloadID(c.td, req.Namespace, req.ServiceAccount)
	if err != nil {
		return nil, err
	}
	ttl, err := c.ttl(req.TTL)
	if err != nil {
		return nil, err
	}
	prov, err := normalizeProvenance(req.Provenance)
	if err != nil {
		return nil, err
	}
	pub, err := parseCSR(req.CSR)
	if err != nil {
		return nil, err
	}
	st := c.state.Load() // one snapshot: the intermediate and its root belong together
	leaf, err := c.signLeaf(st.active, id, pub, ttl, prov)
	if err != nil {
		return nil, err
	}
	if len(prov) == 0 {
		prov = nil
	}
	return &SVID{ID: id, Certificates: []*x509.Certificate{leaf, st.active.Intermediate}, Provenance: prov}, nil
}

// ttl applies the default and refuses out-of-range values rather than clamping them: a proxy
// that asked for 30 days and silently got 7 would schedule its renewal wrongly.
func (c *CA) ttl(ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl == 0:
		return c.cfg.DefaultTTL, nil
	case ttl < MinTTL:
		return 0, fmt.Errorf("%w: %s is below the minimum %s", ErrTTL, ttl, MinTTL)
	case ttl > c.cfg.MaxTTL:
		return 0, fmt.Errorf("%w: %s is above the maximum %s", ErrTTL, ttl, c.cfg.MaxTTL)
	}
	return ttl, nil
}

func (c *CA) signLeaf(a Authority, id spiffeid.ID, pub any, ttl time.Duration, prov []string) (*x509.Certificate, error) {
	now := c.cfg.Now()
	notAfter := now.Add(ttl)
	// Never outlive the chain: a leaf valid after its intermediate would fail verification
	// anyway, and the renewal schedule should follow the real expiry.
	for _, ca := range []*x509.Certificate{a.Intermediate, a.Root} {
		if ca.NotAfter.Before(notAfter) {
			notAfter = ca.NotAfter
		}
	}
	if notAfter.Sub(now) < MinTTL {
		return nil, fmt.Errorf("%w: intermediate expires at %s; renew it", ErrCAExpired, a.Intermediate.NotAfter.UTC().Format(time.RFC3339))
	}
	tmpl := &x509.Certificate{
		// Empty subject: the identity is the URI SAN alone (X509-SVID spec), and Go then marks
		// the SAN extension critical as RFC 5280 §4.2.1.6 requires.
		URIs:      []*url.URL{id.URL()},
		NotBefore: now.Add(-clockSkew),
		NotAfter:  notAfter,
		// digitalSignature only: TLS 1.3 and ECDHE suites sign with the leaf key and never
		// encrypt to it, so keyEncipherment would only widen what the key may be used for.
		KeyUsage: x509.KeyUsageDigitalSignature,
		// Both: every proxy is a TLS server for inbound and a TLS client for outbound traffic.
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	if len(prov) > 0 {
		ext, err := provenanceExtension(prov)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = []pkix.Extension{ext}
	}
	leaf, err := sign(tmpl, a.Intermediate, pub, a.IntermediateKey)
	if err != nil {
		return nil, fmt.Errorf("signing leaf for %s: %w", id, err)
	}
	return leaf, nil
}
