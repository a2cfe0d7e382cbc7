package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/outrider-sec/outrider/internal/identity/ca"
)

// servingCert is the service's own TLS certificate: an X509-SVID for its ServiceAccount, issued
// by the CA it runs, so proxies verify it with the same trust bundle as their peers. It is
// held behind an atomic pointer and renewed at half-life and whenever the CA's signing root
// changes; a failed renewal keeps the current one.
type servingCert struct {
	cas                       CASource
	namespace, serviceAccount string
	log                       *slog.Logger
	now                       func() time.Time

	cert atomic.Pointer[tls.Certificate]
	root atomic.Pointer[x509.Certificate] // the root the current certificate chains to
}

// GetCertificate serves tls.Config.GetCertificate.
func (s *servingCert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.cert.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("no serving certificate yet")
}

// issue signs a fresh certificate with a new P-256 key.
func (s *servingCert) issue() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return err
	}
	c := s.cas.CA()
	svid, err := c.Issue(ca.IssueRequest{CSR: csr, Namespace: s.namespace, ServiceAccount: s.serviceAccount})
	if err != nil {
		return fmt.Errorf("issuing the serving certificate: %w", err)
	}
	chain := make([][]byte, len(svid.Certificates))
	for i, cert := range svid.Certificates {
		chain[i] = cert.Raw
	}
	s.cert.Store(&tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: svid.Leaf()})
	s.root.Store(c.Root())
	s.log.Info("serving certificate issued", "id", svid.ID.String(), "notAfter", svid.Leaf().NotAfter)
	return nil
}

// due reports whether the certificate should be renewed: past half its life, or issued under a
// root that no longer signs.
func (s *servingCert) due() bool {
	c := s.cert.Load()
	if c == nil || !s.root.Load().Equal(s.cas.CA().Root()) {
		return true
	}
	return !s.now().Before(halfLife(c.Leaf))
}

func halfLife(leaf *x509.Certificate) time.Time {
	return leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
}

// run renews the certificate when due, checking when kicked (the CA changed) and every minute.
func (s *servingCert) run(ctx context.Context, kick <-chan struct{}) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-tick.C:
		}
		if s.due() {
			if err := s.issue(); err != nil {
				s.log.Error("renewing the serving certificate failed; keeping the current one", "err", err.Error())
			}
		}
	}
}

// serverTLS is the service's TLS configuration. TLS 1.3 only, like the proxies. No client
// certificate: proxies authenticate with their token (they have no certificate before their
// first one), and the token is what binds the request to a pod.
func serverTLS(s *servingCert) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		GetCertificate: s.GetCertificate,
		NextProtos:     []string{"h2"},
	}
}
