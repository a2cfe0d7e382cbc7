package signature

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Keyless describes a keyless (Fulcio-style) authority: signatures made with a short-lived
// certificate that a trusted CA issued to an OIDC identity.
type Keyless struct {
	// Issuer is the OIDC issuer the certificate must name exactly; or IssuerRegExp, a regular
	// expression that must match the whole issuer. One of them is required.
	Issuer, IssuerRegExp string
	// Subject is the identity (email or URI SAN) the certificate must name exactly; or
	// SubjectRegExp, a regular expression that must match the whole identity. One is required.
	Subject, SubjectRegExp string
	// RootsPEM holds the trusted root certificates (PEM). Required.
	RootsPEM []byte
	// TransparencyLogKeyPEM is the Rekor log's public key (PEM). When set, every signature
	// must carry a log entry signed by that key that records it, and the certificate must be
	// valid at the entry's integrated time. When empty, the certificate must be valid now.
	TransparencyLogKeyPEM []byte
}

// Fulcio's certificate extensions naming the OIDC issuer.
var (
	oidIssuerV2     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8} // DER UTF8String
	oidIssuerLegacy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1} // raw string
)

// keyless is a compiled Keyless.
type keyless struct {
	name             string
	issuer, subject  string
	issuerRE, subjRE *regexp.Regexp
	roots            *x509.CertPool
	log              *transparencyLog
}

// NewKeylessAuthority returns an authority that trusts signatures made with certificates
// that chain to k.RootsPEM with the code-signing usage and name k's issuer and subject.
func NewKeylessAuthority(name string, k Keyless) (*Authority, error) {
	if name == "" {
		return nil, errors.New("keyless authority: a name is required")
	}
	kl := &keyless{name: name, issuer: k.Issuer, subject: k.Subject}
	var err error
	if kl.issuerRE, err = anchored("issuer", k.Issuer, k.IssuerRegExp); err != nil {
		return nil, fmt.Errorf("keyless authority %q: %w", name, err)
	}
	if kl.subjRE, err = anchored("subject", k.Subject, k.SubjectRegExp); err != nil {
		return nil, fmt.Errorf("keyless authority %q: %w", name, err)
	}
	roots, err := parsePEMCertificates(k.RootsPEM)
	if err != nil {
		return nil, fmt.Errorf("keyless authority %q: roots: %w", name, err)
	}
	kl.roots = x509.NewCertPool()
	for _, r := range roots {
		kl.roots.AddCert(r)
	}
	if len(k.TransparencyLogKeyPEM) > 0 {
		pub, err := cryptoutils.UnmarshalPEMToPublicKey(k.TransparencyLogKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("keyless authority %q: transparency log key: %v", name, err)
		}
		if kl.log, err = newTransparencyLog(pub); err != nil {
			return nil, fmt.Errorf("keyless authority %q: transparency log key: %v", name, err)
		}
	}
	return &Authority{name: name, keyless: kl}, nil
}

// anchored compiles the regular expression of a Keyless field, anchored at both ends; exact
// values need no expression.
func anchored(what, exact, expr string) (*regexp.Regexp, error) {
	switch {
	case exact != "" && expr != "":
		return nil, fmt.Errorf("give the %s or a %s regular expression, not both", what, what)
	case exact == "" && expr == "":
		return nil, fmt.Errorf("an %s (or %s regular expression) is required", what, what)
	case expr == "":
		return nil, nil
	}
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, fmt.Errorf("%s regular expression: %v", what, err)
	}
	return re, nil
}

func matches(exact string, re *regexp.Regexp, got string) bool {
	if re != nil {
		return re.MatchString(got)
	}
	return got == exact
}

// verify checks a candidate against the keyless authority.
func (k *keyless) verify(c *candidate, now time.Time) error {
	if c.certErr != nil {
		return c.certErr
	}
	if c.cert == nil {
		return errors.New("signed with a key, not a certificate")
	}
	vs, err := verifiersFor(c.cert.PublicKey)
	if err != nil {
		return fmt.Errorf("certificate key: %v", err)
	}
	idx, ok := verifyWith(vs, c.sigs, c.message())
	if !ok {
		return errors.New("signature does not verify with its certificate")
	}
	if err := k.checkChain(c); err != nil {
		return err
	}
	if err := k.checkIdentity(c.cert); err != nil {
		return err
	}
	at, what := now, "now"
	if k.log != nil {
		if c.tlogErr != nil {
			return c.tlogErr
		}
		if c.tlog == nil {
			return errors.New("no transparency log entry (Rekor bundle), which this authority requires")
		}
		if err := k.log.verifySET(c.tlog); err != nil {
			return err
		}
		if err := checkTlogBody(c.tlog.body, c, c.sigs[idx], c.cert.Raw); err != nil {
			return err
		}
		at, what = time.Unix(c.tlog.integratedTime, 0), "when it was logged"
	}
	if at.Before(c.cert.NotBefore) || at.After(c.cert.NotAfter) {
		return fmt.Errorf("certificate was valid from %s to %s, not %s (%s)",
			c.cert.NotBefore.UTC().Format(time.RFC3339), c.cert.NotAfter.UTC().Format(time.RFC3339), what, at.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkChain verifies the certificate up to a trusted root for code signing. As cosign
// does, the chain is checked at the certificate's start; the signing time is checked apart.
func (k *keyless) checkChain(c *candidate) error {
	inter := x509.NewCertPool()
	for _, cert := range c.chain {
		inter.AddCert(cert)
	}
	_, err := c.cert.Verify(x509.VerifyOptions{
		Roots:         k.roots,
		Intermediates: inter,
		CurrentTime:   c.cert.NotBefore,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	})
	if err != nil {
		return fmt.Errorf("certificate does not chain to the trusted roots for code signing: %v", err)
	}
	return nil
}

func (k *keyless) checkIdentity(cert *x509.Certificate) error {
	issuer, err := certIssuer(cert)
	if err != nil {
		return err
	}
	if !matches(k.issuer, k.issuerRE, issuer) {
		return fmt.Errorf("certificate issuer %q does not match %s", issuer, describe(k.issuer, k.issuerRE))
	}
	subjects := certSubjects(cert)
	if len(subjects) == 0 {
		return errors.New("certificate names no email or URI subject")
	}
	if !slices.ContainsFunc(subjects, func(s string) bool { return matches(k.subject, k.subjRE, s) }) {
		return fmt.Errorf("certificate subject %q does not match %s", subjects[0], describe(k.subject, k.subjRE))
	}
	return nil
}

func describe(exact string, re *regexp.Regexp) string {
	if re != nil {
		return "the regular expression " + re.String()
	}
	return fmt.Sprintf("%q", exact)
}

// certIssuer reads the OIDC issuer from Fulcio's extension, or its legacy form.
func certIssuer(cert *x509.Certificate) (string, error) {
	var legacy string
	for _, ext := range cert.Extensions {
		switch {
		case ext.Id.Equal(oidIssuerV2):
			var s string
			rest, err := asn1.UnmarshalWithParams(ext.Value, &s, "utf8")
			if err != nil || len(rest) != 0 {
				return "", errors.New("certificate's OIDC issuer extension is malformed")
			}
			return s, nil
		case ext.Id.Equal(oidIssuerLegacy):
			legacy = string(ext.Value)
		}
	}
	if legacy == "" {
		return "", errors.New("certificate names no OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8)")
	}
	return legacy, nil
}

// certSubjects lists the identities a certificate names: email and URI SANs.
func certSubjects(cert *x509.Certificate) []string {
	out := slices.Clone(cert.EmailAddresses)
	for _, u := range cert.URIs {
		out = append(out, u.String())
	}
	return out
}
