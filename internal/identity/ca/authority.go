package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// clockSkew backdates NotBefore so a peer whose clock runs a little behind ours accepts a
// certificate the moment it is issued.
const clockSkew = time.Minute

// Authority is a root and the intermediate that signs leaves.
//
// RootKey is optional when Intermediate and IntermediateKey are given: that is the cold-root
// mode, where the operator signs intermediates offline and the running CA never holds the
// root key (renewal then needs ReplaceIntermediate). When Intermediate is nil the CA creates
// one with RootKey.
type Authority struct {
	Root            *x509.Certificate
	RootKey         crypto.Signer
	Intermediate    *x509.Certificate
	IntermediateKey crypto.Signer
}

// checkRoot validates a root certificate and, when present, its key.
func checkRoot(root *x509.Certificate, key crypto.Signer, now time.Time) error {
	if root == nil {
		return fmt.Errorf("%w: no root certificate", ErrInvalidAuthority)
	}
	if err := checkCACert("root", root, now); err != nil {
		return err
	}
	// A root with pathLenConstraint 0 cannot certify our intermediate.
	if root.MaxPathLenZero {
		return fmt.Errorf("%w: root has path length 0 and cannot sign an intermediate", ErrInvalidAuthority)
	}
	if key != nil && !keyMatches(root.PublicKey, key) {
		return fmt.Errorf("%w: root key does not match the root certificate", ErrInvalidAuthority)
	}
	return nil
}

// checkIntermediate validates an intermediate against its root.
func checkIntermediate(inter *x509.Certificate, key crypto.Signer, root *x509.Certificate, now time.Time) error {
	if inter == nil || key == nil {
		return fmt.Errorf("%w: intermediate certificate and key are both required", ErrInvalidAuthority)
	}
	if err := checkCACert("intermediate", inter, now); err != nil {
		return err
	}
	if !keyMatches(inter.PublicKey, key) {
		return fmt.Errorf("%w: intermediate key does not match the intermediate certificate", ErrInvalidAuthority)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	_, err := inter.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("%w: intermediate does not chain to the root: %v", ErrInvalidAuthority, err)
	}
	return nil
}

func checkCACert(role string, c *x509.Certificate, now time.Time) error {
	switch {
	case !c.BasicConstraintsValid || !c.IsCA:
		return fmt.Errorf("%w: %s is not a CA certificate", ErrInvalidAuthority, role)
	case c.KeyUsage&x509.KeyUsageCertSign == 0:
		return fmt.Errorf("%w: %s lacks the certSign key usage", ErrInvalidAuthority, role)
	case !now.Before(c.NotAfter):
		return fmt.Errorf("%w: %s expired at %s", ErrCAExpired, role, c.NotAfter.UTC().Format(time.RFC3339))
	}
	if err := checkAuthorityKey(c.PublicKey); err != nil {
		return fmt.Errorf("%s: %w", role, err)
	}
	return nil
}

// newRoot creates a self-signed root. MaxPathLen 1: exactly one intermediate below it, so a
// stolen intermediate key cannot mint further CAs that still chain to the root.
func newRoot(td spiffeid.TrustDomain, now time.Time, ttl time.Duration) (*x509.Certificate, crypto.Signer, error) {
	key, err := generateKey()
	if err != nil {
		return nil, nil, fmt.Errorf("generating root key: %w", err)
	}
	tmpl := caTemplate(td, "Outrider root CA", now, now.Add(ttl))
	tmpl.MaxPathLen = 1
	cert, err := sign(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing root: %w", err)
	}
	return cert, key, nil
}

// newIntermediate creates an intermediate under root, never outliving it. MaxPathLen 0: it
// signs leaves only. URI name constraints limit it to this trust domain, so even a stolen
// intermediate key cannot mint identities that a standards-following verifier accepts for
// another trust domain chained to the same root.
func newIntermediate(td spiffeid.TrustDomain, root *x509.Certificate, rootKey crypto.Signer, key crypto.Signer, now time.Time, ttl time.Duration) (*x509.Certificate, error) {
	notAfter := now.Add(ttl)
	if root.NotAfter.Before(notAfter) {
		notAfter = root.NotAfter
	}
	tmpl := caTemplate(td, "Outrider intermediate CA", now, notAfter)
	tmpl.MaxPathLenZero = true
	tmpl.PermittedURIDomains = []string{td.Name()}
	cert, err := sign(tmpl, root, key.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("signing intermediate: %w", err)
	}
	return cert, nil
}

func caTemplate(td spiffeid.TrustDomain, cn string, now, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Outrider"}, OrganizationalUnit: []string{td.Name()}, CommonName: cn},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		// certSign for the chain, cRLSign because RFC 5280 expects CAs to be able to; we
		// publish no CRLs (short leaf lifetimes are the revocation story).
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

// sign fills in a random serial and signs tmpl. Go derives SubjectKeyId for CAs and
// AuthorityKeyId from the parent, which lets verifiers pick the right root while two roots
// with the same subject share the bundle during a rotation.
func sign(tmpl, parent *x509.Certificate, pub any, key crypto.Signer) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// newSerial returns a positive 128-bit random serial. RFC 5280 allows 20 octets; 128 bits of
// CSPRNG output exceeds the CA/B Forum's 64-bit minimum and makes serials unpredictable, which
// defeats chosen-prefix collision attacks on the signed bytes.
func newSerial() (*big.Int, error) {
	var b [16]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("generating serial: %w", err)
		}
		if n := new(big.Int).SetBytes(b[:]); n.Sign() > 0 {
			return n, nil
		}
	}
}
