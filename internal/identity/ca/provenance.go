package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// OIDProvenance identifies the provenance extension: a DER SEQUENCE OF UTF8String, each naming
// a signing authority whose signature on every image of the pod was verified at admission.
//
// The arc is a PLACEHOLDER. 1.3.6.1.4.1.32473 is the IANA enterprise number RFC 5612 reserves
// for documentation, so it cannot collide with a real organisation's extension, but it is not
// ours. Before a stable release Outrider must register its own Private Enterprise Number and
// move the extension to <PEN>.1.1 (1 = X.509 extensions, 1 = provenance v1); changing it is a
// breaking change for running proxies, which accept only this one OID. Sigstore's Fulcio arc
// (1.3.6.1.4.1.57264) is deliberately not reused: its extensions have Fulcio's semantics and a
// verifier that understands them must not misread ours.
//
// The extension is non-critical: a standard TLS stack that does not know it must still accept
// the certificate (Go's verifier rejects unknown critical extensions), and only Outrider's
// proxy attaches meaning to it.
var OIDProvenance = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 1, 1}

// Limits on provenance entries keep certificates small and names printable in logs.
const (
	maxProvenanceEntries = 16
	maxAuthorityNameLen  = 256
)

// normalizeProvenance validates authority names and returns them sorted and deduplicated, so
// the same facts always produce the same bytes.
func normalizeProvenance(in []string) ([]string, error) {
	if len(in) > maxProvenanceEntries {
		return nil, fmt.Errorf("%w: %d entries (at most %d)", ErrInvalidProvenance, len(in), maxProvenanceEntries)
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		if err := checkAuthorityName(s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func checkAuthorityName(s string) error {
	switch {
	case s == "" || len(s) > maxAuthorityNameLen:
		return fmt.Errorf("%w: authority name must be 1–%d bytes", ErrInvalidProvenance, maxAuthorityNameLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: authority name is not UTF-8", ErrInvalidProvenance)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%w: authority name %s has surrounding space", ErrInvalidProvenance, quote(s))
	case strings.ContainsFunc(s, unicode.IsControl):
		return fmt.Errorf("%w: authority name %s has control characters", ErrInvalidProvenance, quote(s))
	}
	return nil
}

// provenanceExtension encodes already-normalized names.
func provenanceExtension(names []string) (pkix.Extension, error) {
	elems := make([]asn1.RawValue, len(names))
	for i, n := range names {
		elems[i] = asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagUTF8String, Bytes: []byte(n)}
	}
	der, err := asn1.Marshal(elems)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("%w: encoding: %v", ErrInvalidProvenance, err)
	}
	return pkix.Extension{Id: OIDProvenance, Critical: false, Value: der}, nil
}

// ProvenanceOf returns the signing authorities recorded in cert's provenance extension, or nil
// when it has none. It decodes strictly and returns an error wrapping ErrInvalidProvenance for
// anything this CA would not have written.
//
// The result means something only for a certificate whose chain was verified against the
// trust bundle first (x509svid.Verify): the extension is a claim by the CA, not by the peer.
func ProvenanceOf(cert *x509.Certificate) ([]string, error) {
	if cert == nil {
		return nil, fmt.Errorf("%w: nil certificate", ErrInvalidProvenance)
	}
	var found *pkix.Extension
	for i := range cert.Extensions {
		if !cert.Extensions[i].Id.Equal(OIDProvenance) {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("%w: extension appears twice", ErrInvalidProvenance)
		}
		found = &cert.Extensions[i]
	}
	if found == nil {
		return nil, nil
	}
	return decodeProvenance(found.Value)
}

func decodeProvenance(der []byte) ([]string, error) {
	var elems []asn1.RawValue
	rest, err := asn1.Unmarshal(der, &elems)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrInvalidProvenance, err)
	case len(rest) != 0:
		return nil, fmt.Errorf("%w: trailing data", ErrInvalidProvenance)
	case len(elems) == 0 || len(elems) > maxProvenanceEntries:
		return nil, fmt.Errorf("%w: %d entries (want 1–%d)", ErrInvalidProvenance, len(elems), maxProvenanceEntries)
	}
	names := make([]string, len(elems))
	for i, e := range elems {
		if e.Class != asn1.ClassUniversal || e.Tag != asn1.TagUTF8String || e.IsCompound {
			return nil, fmt.Errorf("%w: entry %d is not a UTF8String", ErrInvalidProvenance, i)
		}
		names[i] = string(e.Bytes)
		if err := checkAuthorityName(names[i]); err != nil {
			return nil, err
		}
	}
	return names, nil
}
