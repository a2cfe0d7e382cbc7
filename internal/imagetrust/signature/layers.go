package signature

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// maxCertificates bounds the certificates read from one chain annotation.
const maxCertificates = 10

// parseSignatureLayer reads one layer of cosign's signature manifest: the blob is the
// simple-signing payload and the annotations carry the signature, certificate, chain and
// Rekor bundle. It never fails on the certificate or bundle: those errors are kept on the
// candidate and become reasons at verification, where an authority that needs them refuses.
func parseSignatureLayer(source string, blob []byte, ann map[string]string) (*candidate, error) {
	b64, ok := ann[annotationSignature]
	if !ok {
		return nil, fmt.Errorf("no %s annotation", annotationSignature)
	}
	sig, err := decodeBase64(b64)
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("%s annotation: not a base64 signature", annotationSignature)
	}
	c := &candidate{source: source, payload: blob, blob: blob, sigs: [][]byte{sig}}
	c.parseCertificates(ann[annotationCertificate], ann[annotationChain])
	if raw, ok := ann[annotationBundle]; ok {
		c.tlog, c.tlogErr = parseRekorBundle([]byte(raw))
	}
	return c, nil
}

// parseAttestationLayer reads one layer of cosign's attestation manifest: the blob is a DSSE
// envelope, and the annotations are those of a signature layer (the signature annotation is
// empty: the signatures are inside the envelope).
func parseAttestationLayer(source string, blob []byte, ann map[string]string) (*candidate, error) {
	env, err := parseEnvelope(blob)
	if err != nil {
		return nil, err
	}
	c := &candidate{source: source, blob: blob, dsse: true, payloadType: env.payloadType, payload: env.payload, sigs: env.sigs}
	c.parseCertificates(ann[annotationCertificate], ann[annotationChain])
	if raw, ok := ann[annotationBundle]; ok {
		c.tlog, c.tlogErr = parseRekorBundle([]byte(raw))
	}
	return c, nil
}

// parsePEMCertificates reads up to maxCertificates PEM certificates; anything else is an error.
func parsePEMCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q is not a CERTIFICATE", block.Type)
		}
		if len(certs) == maxCertificates {
			return nil, fmt.Errorf("more than %d certificates", maxCertificates)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate: %w", err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}

// simpleSigning is the part of cosign's simple-signing payload that binds it to an image.
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// cosignSignatureType is critical.type of a cosign simple-signing payload.
const cosignSignatureType = "cosign container image signature"

// checkSimpleSigning checks that a (verified) simple-signing payload signs digest.
func checkSimpleSigning(payload []byte, digest string) error {
	var p simpleSigning
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("signed payload is not simple-signing JSON: %v", err)
	}
	if p.Critical.Type != cosignSignatureType {
		return fmt.Errorf("signed payload has critical.type %q, not %q", p.Critical.Type, cosignSignatureType)
	}
	if got := p.Critical.Image.DockerManifestDigest; got != digest {
		return fmt.Errorf("signed payload names image digest %q, not %s (a signature copied from another image)", got, digest)
	}
	return nil
}
