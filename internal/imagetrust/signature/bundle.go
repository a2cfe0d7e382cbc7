package signature

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Media types of Sigstore bundles; v0.3 is what cosign writes, the older ones are read too.
const (
	bundleMediaTypeV01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
	bundleMediaTypeV02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
)

// maxTlogEntries bounds the transparency-log entries read from one bundle.
const maxTlogEntries = 4

// bundleJSON is the part of a Sigstore bundle (protobuf-specs, JSON encoding) this package
// reads. Only DSSE bundles are image evidence: a messageSignature bundle signs a digest it
// does not carry, so nothing binds it to an image.
type bundleJSON struct {
	MediaType            string `json:"mediaType"`
	VerificationMaterial struct {
		PublicKey   *struct{} `json:"publicKey"`
		Certificate *struct {
			RawBytes string `json:"rawBytes"`
		} `json:"certificate"`
		X509CertificateChain *struct {
			Certificates []struct {
				RawBytes string `json:"rawBytes"`
			} `json:"certificates"`
		} `json:"x509CertificateChain"`
		TlogEntries []struct {
			LogIndex flexInt `json:"logIndex"`
			LogID    struct {
				KeyID string `json:"keyId"`
			} `json:"logId"`
			IntegratedTime   flexInt `json:"integratedTime"`
			InclusionPromise *struct {
				SignedEntryTimestamp string `json:"signedEntryTimestamp"`
			} `json:"inclusionPromise"`
			CanonicalizedBody string `json:"canonicalizedBody"`
		} `json:"tlogEntries"`
	} `json:"verificationMaterial"`
	DSSEEnvelope     *envelopeJSON    `json:"dsseEnvelope"`
	MessageSignature *json.RawMessage `json:"messageSignature"`
}

// flexInt reads an int64 written as a JSON number or, as protobuf's JSON does, a string.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*f = flexInt(n)
	return nil
}

// parseBundleLayer reads a Sigstore bundle layer (cosign --new-bundle-format).
func parseBundleLayer(source string, blob []byte, _ map[string]string) (*candidate, error) {
	var b bundleJSON
	if err := json.Unmarshal(blob, &b); err != nil {
		return nil, fmt.Errorf("sigstore bundle: %v", err)
	}
	switch b.MediaType {
	case BundleMediaType, bundleMediaTypeV02, bundleMediaTypeV01:
	default:
		return nil, fmt.Errorf("sigstore bundle: unknown mediaType %q", b.MediaType)
	}
	if b.DSSEEnvelope == nil {
		if b.MessageSignature != nil {
			return nil, errors.New("sigstore bundle with a messageSignature: nothing binds it to an image (not supported)")
		}
		return nil, errors.New("sigstore bundle without dsseEnvelope")
	}
	env, err := b.DSSEEnvelope.parse()
	if err != nil {
		return nil, fmt.Errorf("sigstore bundle: %w", err)
	}
	c := &candidate{source: source, blob: blob, dsse: true, payloadType: env.payloadType, payload: env.payload, sigs: env.sigs}
	c.bundleSignature = statementPredicate(env) == CosignSignPredicateType
	c.parseBundleCertificates(&b)
	for i, e := range b.VerificationMaterial.TlogEntries {
		if i == maxTlogEntries {
			break
		}
		if e.InclusionPromise == nil {
			c.tlogErr = errors.New("transparency log entry without an inclusion promise (signed entry timestamp); inclusion proofs alone are not supported")
			continue
		}
		body, err := decodeBase64(e.CanonicalizedBody)
		set, err2 := decodeBase64(e.InclusionPromise.SignedEntryTimestamp)
		logID, err3 := decodeBase64(e.LogID.KeyID)
		if err != nil || err2 != nil || err3 != nil {
			c.tlogErr = errors.New("transparency log entry: fields are not base64")
			continue
		}
		c.tlog, c.tlogErr = newTlogEntry(base64.StdEncoding.EncodeToString(body), int64(e.IntegratedTime), int64(e.LogIndex), fmt.Sprintf("%x", logID), set)
		if c.tlogErr == nil {
			break
		}
	}
	return c, nil
}

func (c *candidate) parseBundleCertificates(b *bundleJSON) {
	vm := b.VerificationMaterial
	var raws []string
	switch {
	case vm.Certificate != nil:
		raws = []string{vm.Certificate.RawBytes}
	case vm.X509CertificateChain != nil:
		for _, cert := range vm.X509CertificateChain.Certificates {
			raws = append(raws, cert.RawBytes)
		}
	default:
		return // a public-key bundle: the key authority decides
	}
	if len(raws) == 0 || len(raws) > maxCertificates {
		c.certErr = fmt.Errorf("sigstore bundle: %d certificates", len(raws))
		return
	}
	var certs []*x509.Certificate
	for _, raw := range raws {
		der, err := decodeBase64(raw)
		if err != nil {
			c.certErr = errors.New("sigstore bundle: certificate is not base64")
			return
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			c.certErr = fmt.Errorf("sigstore bundle: %v", err)
			return
		}
		certs = append(certs, cert)
	}
	c.cert, c.chain = certs[0], certs[1:]
}

// statementPredicate is the predicateType an (unverified) envelope's statement claims, for
// sorting evidence; verification parses the statement again after checking its signature.
func statementPredicate(env *envelope) string {
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if env.payloadType != InTotoPayloadType || json.Unmarshal(env.payload, &st) != nil {
		return ""
	}
	return st.PredicateType
}
