package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Errors a handshake fails with; logs and metrics name them.
var (
	errNoCertificate    = errors.New("proxy has no certificate yet")
	errNoBundle         = errors.New("proxy has no trust bundle yet")
	errNoPeerCert       = errors.New("peer presented no certificate")
	errWrongALPN        = errors.New("peer did not negotiate " + ALPN)
	errUnexpectedServer = errors.New("server identity is not the one expected for the destination")
)

// serverTLS is the inbound side. One config serves every connection: the certificate and the
// bundle are read per handshake from the atomically replaced state, so rotation needs no
// new config and session-ticket keys stay stable for resumption.
func (p *Proxy) serverTLS() *tls.Config {
	return &tls.Config{
		// TLS 1.3 only: every peer is an Outrider proxy, and 1.3 encrypts the certificates,
		// so identities are not visible on the wire.
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{ALPN},
		// The standard verifier knows nothing of SPIFFE IDs; verifyPeer does the whole
		// check, on full and resumed handshakes alike.
		ClientAuth: tls.RequireAnyClientCert,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return p.certificate()
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := p.verifyPeer(cs)
			return err
		},
		Time: p.cfg.Now,
	}
}

// clientTLS is the outbound side toward the proxy at a meshed endpoint that must present want.
// The session cache is shared, keyed by the remote address (ServerName is empty), so repeat
// connections to the same peer resume instead of running a full handshake.
func (p *Proxy) clientTLS(want spiffeid.ID) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{ALPN},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return p.certificate()
		},
		// Host-name verification does not apply: peers are named by SPIFFE ID, which
		// VerifyConnection checks against the bundle and against want, also on resumption.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := p.verifyPeer(cs)
			if err != nil {
				return err
			}
			if id != want {
				return fmt.Errorf("%w: got %s, want %s", errUnexpectedServer, id, want)
			}
			return nil
		},
		ClientSessionCache: p.sessions,
		Time:               p.cfg.Now,
	}
}

func (p *Proxy) certificate() (*tls.Certificate, error) {
	l := p.local.Load()
	if l == nil {
		return nil, errNoCertificate
	}
	return l.cert, nil
}

// verifyPeer checks the peer's chain against the current bundle with go-spiffe (expiry,
// chain, SVID shape, trust domain) and the negotiated protocol, and returns its ID.
func (p *Proxy) verifyPeer(cs tls.ConnectionState) (spiffeid.ID, error) {
	if cs.NegotiatedProtocol != ALPN {
		return spiffeid.ID{}, errWrongALPN
	}
	if len(cs.PeerCertificates) == 0 {
		return spiffeid.ID{}, errNoPeerCert
	}
	bundle := p.bundle.Load()
	if bundle == nil {
		return spiffeid.ID{}, errNoBundle
	}
	id, _, err := x509svid.Verify(cs.PeerCertificates, bundle, x509svid.WithTime(p.cfg.Now()))
	if err != nil {
		return spiffeid.ID{}, err
	}
	return id, nil
}
