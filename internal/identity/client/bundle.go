package client

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	pb "github.com/outrider-sec/outrider/internal/identity/identitypb"
)

// maxBundleFile bounds the bootstrap file we read.
const maxBundleFile = 1 << 20

// bundleSource is what the connection to the service verifies against: the roots last pushed
// by the service together with those in the bootstrap file, read again at every handshake. The
// file is how a proxy that missed a rotation (it was down, or its stream was) still recognises
// the service: the service keeps the ConfigMap current and the kubelet the mounted file.
type bundleSource struct {
	td     spiffeid.TrustDomain
	file   string
	pushed atomic.Pointer[x509bundle.Bundle]
}

func newBundleSource(td spiffeid.TrustDomain, file string) *bundleSource {
	return &bundleSource{td: td, file: file}
}

// GetX509BundleForTrustDomain implements x509bundle.Source.
func (s *bundleSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if td != s.td {
		return nil, fmt.Errorf("no bundle for trust domain %q", td)
	}
	var roots []*x509.Certificate
	if b := s.pushed.Load(); b != nil {
		roots = append(roots, b.X509Authorities()...)
	}
	if b, err := s.bootstrap(); err == nil {
		roots = append(roots, b.X509Authorities()...)
	}
	if len(roots) == 0 {
		return nil, errors.New("no trust bundle: neither the bootstrap file nor the service provided one")
	}
	return x509bundle.FromX509Authorities(s.td, roots), nil
}

// bootstrap reads the bootstrap bundle file.
func (s *bundleSource) bootstrap() (*x509bundle.Bundle, error) {
	b, err := os.ReadFile(s.file)
	if err != nil {
		return nil, err
	}
	if len(b) > maxBundleFile {
		return nil, fmt.Errorf("bundle file %s: %d bytes", s.file, len(b))
	}
	var roots []*x509.Certificate
	for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("bundle file %s: %w", s.file, err)
		}
		roots = append(roots, c)
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("bundle file %s: no certificates", s.file)
	}
	return x509bundle.FromX509Authorities(s.td, roots), nil
}

// tlsConfig verifies the service as an X509-SVID for serverID. TLS 1.3, like everything in
// the mesh; no client certificate (the token authenticates the proxy).
func (s *bundleSource) tlsConfig(serverID spiffeid.ID) *tls.Config {
	cfg := tlsconfig.TLSClientConfig(s, tlsconfig.AuthorizeID(serverID))
	cfg.MinVersion = tls.VersionTLS13
	return cfg
}

// bundleFromProto decodes a pushed bundle.
func bundleFromProto(b *pb.TrustBundle) (*x509bundle.Bundle, error) {
	if b == nil || len(b.GetRoots()) == 0 {
		return nil, errors.New("the service sent an empty trust bundle")
	}
	td, err := spiffeid.TrustDomainFromString(b.GetTrustDomain())
	if err != nil {
		return nil, fmt.Errorf("trust bundle: %w", err)
	}
	roots := make([]*x509.Certificate, len(b.GetRoots()))
	for i, der := range b.GetRoots() {
		if roots[i], err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("trust bundle root %d: %w", i, err)
		}
	}
	return x509bundle.FromX509Authorities(td, roots), nil
}

// installBundle hands a bundle to the proxy and to the connection's verifier.
func (c *Client) installBundle(b *x509bundle.Bundle) error {
	if b.TrustDomain() != c.cfg.ServerID.TrustDomain() {
		return fmt.Errorf("the service sent a bundle for trust domain %q, want %q", b.TrustDomain(), c.cfg.ServerID.TrustDomain())
	}
	if err := c.cfg.Sink.SetTrustBundle(b); err != nil {
		return fmt.Errorf("installing the trust bundle: %w", err)
	}
	c.bundles.pushed.Store(b)
	c.hasBundle.Store(true)
	return nil
}
