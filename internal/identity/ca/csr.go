package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// maxCSRSize bounds the input we parse: a P-384 CSR is well under 1 KiB, and an attacker
// should not be able to make the CA parse megabytes.
const maxCSRSize = 16 << 10

// parseCSR decodes a DER or PEM CSR and verifies its self-signature (proof that the caller
// holds the private key). Nothing else in the CSR is trusted: the caller gets back only the
// public key.
func parseCSR(in []byte) (any, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrInvalidCSR)
	}
	if len(in) > maxCSRSize {
		return nil, fmt.Errorf("%w: %d bytes (at most %d)", ErrInvalidCSR, len(in), maxCSRSize)
	}
	der := in
	if trimmed := bytes.TrimSpace(in); bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		block, rest := pem.Decode(trimmed)
		switch {
		case block == nil:
			return nil, fmt.Errorf("%w: malformed PEM", ErrInvalidCSR)
		case block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST":
			return nil, fmt.Errorf("%w: PEM block %s, want CERTIFICATE REQUEST", ErrInvalidCSR, quote(block.Type))
		case len(bytes.TrimSpace(rest)) != 0:
			return nil, fmt.Errorf("%w: data after the PEM block", ErrInvalidCSR)
		}
		der = block.Bytes
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrInvalidCSR, err)
	}
	if err := checkLeafKey(csr.PublicKey); err != nil {
		return nil, err
	}
	return csr.PublicKey, nil
}
