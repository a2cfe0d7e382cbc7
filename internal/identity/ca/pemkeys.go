package ca

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// ParseAuthority reads an operator-supplied CA from PEM: the root certificate (required), its
// key (optional: omit it to keep the root cold) and an intermediate certificate and key
// (optional: generated under the root key when omitted). Keys may be PKCS#8, SEC 1 or PKCS#1.
// Errors never echo key bytes.
func ParseAuthority(rootCert, rootKey, interCert, interKey []byte) (*Authority, error) {
	var a Authority
	var err error
	if a.Root, err = parseCertPEM(rootCert); err != nil {
		return nil, fmt.Errorf("root certificate: %w", err)
	}
	if len(rootKey) > 0 {
		if a.RootKey, err = parseKeyPEM(rootKey); err != nil {
			return nil, fmt.Errorf("root key: %w", err)
		}
	}
	if len(interCert) > 0 || len(interKey) > 0 {
		if a.Intermediate, err = parseCertPEM(interCert); err != nil {
			return nil, fmt.Errorf("intermediate certificate: %w", err)
		}
		if a.IntermediateKey, err = parseKeyPEM(interKey); err != nil {
			return nil, fmt.Errorf("intermediate key: %w", err)
		}
	}
	return &a, nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: no CERTIFICATE PEM block", ErrInvalidAuthority)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidAuthority, err)
	}
	return cert, nil
}

func parseKeyPEM(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrInvalidAuthority)
	}
	return parseKeyDER(block.Type, block.Bytes)
}

// parseKeyDER deliberately drops the parser's error text: it is about the key's encoding and
// the policy is that nothing derived from key bytes reaches an error or a log.
func parseKeyDER(typ string, der []byte) (crypto.Signer, error) {
	var key any
	var err error
	switch typ {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(der)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(der)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(der)
	default:
		return nil, fmt.Errorf("%w: PEM block %s is not a private key", ErrInvalidAuthority, quote(typ))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s could not be parsed", ErrInvalidAuthority, typ)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T cannot sign", ErrUnsupportedKey, key)
	}
	if err := checkAuthorityKey(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}
