package signature

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// candidate is one signature or attestation found on the registry, parsed but not verified.
type candidate struct {
	source string // where it was found, for reasons: "sha256-….sig layer 0"

	// dsse is false for a simple-signing signature: sigs[0] signs payload. For a DSSE
	// envelope each of sigs signs PAE(payloadType, payload).
	dsse        bool
	payloadType string
	payload     []byte
	sigs        [][]byte

	// bundleSignature marks a Sigstore bundle whose statement has the predicate type
	// CosignSignPredicateType: an image signature, not an attestation.
	bundleSignature bool

	// blob is the layer as stored, the bytes a Rekor entry's hash names for cosign's formats.
	blob []byte

	cert    *x509.Certificate   // keyless: the signing certificate, nil for keys
	chain   []*x509.Certificate // intermediates (and perhaps a root) sent with it
	certErr error               // why the certificate or chain could not be read

	tlog    *tlogEntry // the transparency-log entry that came with it
	tlogErr error      // why that entry could not be read
}

// message returns the bytes each signature signs.
func (c *candidate) message() []byte {
	if c.dsse {
		return pae(c.payloadType, c.payload)
	}
	return c.payload
}

// decodeBase64 decodes standard base64, with or without padding, as cosign writes it.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	return b, nil
}

// parseCertificates reads the certificate and chain annotations (PEM).
func (c *candidate) parseCertificates(certPEM, chainPEM string) {
	if certPEM == "" {
		if chainPEM != "" {
			c.certErr = errors.New("a certificate chain without a certificate")
		}
		return
	}
	certs, err := parsePEMCertificates([]byte(certPEM))
	if err != nil || len(certs) != 1 {
		c.certErr = fmt.Errorf("certificate annotation: want one PEM certificate: %v", errOrCount(err, len(certs)))
		return
	}
	c.cert = certs[0]
	if chainPEM == "" {
		return
	}
	if c.chain, err = parsePEMCertificates([]byte(chainPEM)); err != nil {
		c.certErr = fmt.Errorf("chain annotation: %w", err)
		c.cert = nil
	}
}

func errOrCount(err error, n int) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("found %d", n)
}
