package proxy

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net/netip"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// localIdentity is the proxy's own certificate, parsed once.
type localIdentity struct {
	cert *tls.Certificate
	id   spiffeid.ID
	leaf *x509.Certificate
}

// Endpoints maps the addresses of meshed workloads to the identity expected there.
// Connections to other addresses are egress.
type Endpoints map[netip.Addr]spiffeid.ID

// SetCertificate installs the proxy's identity: a leaf X509-SVID, its intermediates and the
// private key. New handshakes, in both directions, use it at once; established connections
// keep the certificate they were set up with. A certificate that is not a usable SVID is
// refused and the previous one stays in place.
func (p *Proxy) SetCertificate(cert tls.Certificate) error {
	if len(cert.Certificate) == 0 {
		return errors.New("certificate: empty chain")
	}
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return fmt.Errorf("certificate: %w", err)
		}
		cert.Leaf = leaf
	}
	id, err := x509svid.IDFromCert(leaf)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	signer, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return errors.New("certificate: the private key cannot sign")
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return errors.New("certificate: the private key does not match the leaf")
	}
	p.local.Store(&localIdentity{cert: &cert, id: id, leaf: leaf})
	p.metrics.certExpiry.Set(float64(leaf.NotAfter.Unix()))
	p.log.Info("certificate installed", "id", id.String(), "notAfter", leaf.NotAfter, "serial", leaf.SerialNumber.Text(16))
	return nil
}

// SetTrustBundle installs the roots peers are verified against. During a root rotation it
// holds the old and the new root. Roots are copied; the caller may reuse the bundle.
// Connections already established are not re-checked.
func (p *Proxy) SetTrustBundle(b *x509bundle.Bundle) error {
	if b == nil || len(b.X509Authorities()) == 0 {
		return errors.New("trust bundle: no roots")
	}
	p.bundle.Store(x509bundle.FromX509Authorities(b.TrustDomain(), b.X509Authorities()))
	p.log.Info("trust bundle installed", "trustDomain", b.TrustDomain().String(), "roots", len(b.X509Authorities()))
	return nil
}

// SetPolicy installs the workload's inbound policy after validating it, then re-checks every
// open inbound connection and closes those the new policy no longer allows. An invalid policy
// is refused and the previous one stays in place.
func (p *Proxy) SetPolicy(pol *authz.Policy) error {
	if err := pol.Validate(); err != nil {
		return err
	}
	// Serialised, so that the re-check always runs against the policy that ends up installed.
	p.policyMu.Lock()
	defer p.policyMu.Unlock()
	p.policy.Store(pol)
	revoked := p.conns.revoked(pol)
	p.log.Info("policy installed", "rules", len(pol.Rules), "defaultDeny", pol.DefaultDeny, "permissive", pol.Permissive, "revokedConnections", len(revoked))
	for _, t := range revoked {
		p.log.Warn("connection revoked", "direction", inbound, "peer", t.peer.String(), "local", p.localID(), "port", t.port, "remote", t.remote, "reason", reasonPolicyRevoked)
		p.metrics.revoked.Inc()
		t.close()
	}
	return nil
}

// SetEndpoints installs the set of meshed destinations. Connections already established are
// not affected. IPv4-mapped IPv6 addresses are stored as IPv4.
func (p *Proxy) SetEndpoints(eps Endpoints) {
	out := make(Endpoints, len(eps))
	for a, id := range eps {
		out[a.Unmap()] = id
	}
	p.endpoints.Store(&out)
	p.log.Info("endpoints installed", "count", len(out))
}

// Ready returns nil when the proxy can serve: it has a certificate, a trust bundle and a
// policy, and is not draining. Otherwise the error says what is missing.
func (p *Proxy) Ready() error {
	var missing []error
	if p.local.Load() == nil {
		missing = append(missing, errors.New("no certificate"))
	}
	if p.bundle.Load() == nil {
		missing = append(missing, errors.New("no trust bundle"))
	}
	if p.policy.Load() == nil {
		missing = append(missing, errors.New("no policy"))
	}
	if p.draining.Load() {
		missing = append(missing, errors.New("draining"))
	}
	return errors.Join(missing...)
}

func (p *Proxy) endpoint(a netip.Addr) (spiffeid.ID, bool) {
	eps := p.endpoints.Load()
	if eps == nil {
		return spiffeid.ID{}, false
	}
	id, ok := (*eps)[a.Unmap()]
	return id, ok
}

// localID returns the proxy's own identity for logs, or "" before it has one.
func (p *Proxy) localID() string {
	if l := p.local.Load(); l != nil {
		return l.id.String()
	}
	return ""
}

// endpointsSnapshot returns a copy for the admin interface.
func (p *Proxy) endpointsSnapshot() Endpoints {
	if eps := p.endpoints.Load(); eps != nil {
		return maps.Clone(*eps)
	}
	return nil
}
