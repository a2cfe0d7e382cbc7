package authz

import (
	"crypto/x509"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/outrider-sec/outrider/internal/identity/ca"
)

// Peer is the client of an inbound connection as the proxy verified it.
type Peer struct {
	// ID is the SPIFFE ID from the peer's verified certificate; zero for a peer without a
	// mesh identity (plain text).
	ID spiffeid.ID
	// Provenance lists the signing authorities the peer's certificate carries.
	Provenance []string
}

// Authenticated reports whether the peer presented a verified mesh identity.
func (p Peer) Authenticated() bool { return !p.ID.IsZero() }

// String returns the peer's SPIFFE ID, or "plaintext".
func (p Peer) String() string {
	if !p.Authenticated() {
		return "plaintext"
	}
	return p.ID.String()
}

// PeerFromCertificate builds the peer of a connection from its leaf certificate and the ID
// that x509svid.Verify returned for it. Call it only after the chain has been verified: the
// provenance extension is a claim of the CA, and means nothing on an unverified certificate.
// A malformed extension returns the peer without provenance and an error to log, so rules
// that require provenance fail closed while the identity stays usable.
func PeerFromCertificate(id spiffeid.ID, leaf *x509.Certificate) (Peer, error) {
	prov, err := ca.ProvenanceOf(leaf)
	if err != nil {
		return Peer{ID: id}, fmt.Errorf("peer %s: %w", id, err)
	}
	return Peer{ID: id, Provenance: prov}, nil
}

func (p Peer) hasAnyProvenance(want []string) bool {
	for _, w := range want {
		for _, have := range p.Provenance {
			if w == have {
				return true
			}
		}
	}
	return false
}
