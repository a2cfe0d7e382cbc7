package signature

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	sigsig "github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// CertificateProvider is implemented by a signer whose key is certified (keyless signing):
// Sign and Attest attach its certificate and chain.
type CertificateProvider interface {
	// CertificatePEM returns the signing certificate and its chain (intermediates first), PEM.
	CertificatePEM() (cert, chain []byte)
}

// TransparencyLogger is implemented by a signer that records each signature in a
// transparency log: Sign and Attest attach the bundle it returns.
type TransparencyLogger interface {
	// LogEntry records a Rekor entry body (hashedrekord or intoto JSON) and returns the
	// log's bundle for it.
	LogEntry(ctx context.Context, body []byte) (*RekorBundle, error)
}

// Sign signs the image digestRef with s and writes the signature as cosign does: a layer
// with the simple-signing payload, appended to the manifest at <repo>:sha256-<hex>.sig.
func Sign(ctx context.Context, digestRef name.Digest, s sigsig.Signer, opts ...remote.Option) error {
	body, err := payload.Cosign{Image: digestRef}.MarshalJSON()
	if err != nil {
		return fmt.Errorf("signing %s: %w", digestRef, err)
	}
	sig, err := s.SignMessage(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("signing %s: %w", digestRef, err)
	}
	ann := map[string]string{annotationSignature: base64.StdEncoding.EncodeToString(sig)}
	keyPEM, err := signerMaterial(s, ann)
	if err != nil {
		return fmt.Errorf("signing %s: %w", digestRef, err)
	}
	if l, ok := s.(TransparencyLogger); ok {
		entry := hashedRekord(body, sig, keyPEM)
		if err := logEntry(ctx, l, entry, ann); err != nil {
			return fmt.Errorf("signing %s: %w", digestRef, err)
		}
	}
	return appendLayer(ctx, tagFor(digestRef, "sig"), body, SimpleSigningMediaType, ann, opts)
}

// signerMaterial adds the certificate annotations of a keyless signer and returns the PEM a
// log entry names the signer by: its certificate, or else its public key.
func signerMaterial(s sigsig.Signer, ann map[string]string) ([]byte, error) {
	if cp, ok := s.(CertificateProvider); ok {
		cert, chain := cp.CertificatePEM()
		ann[annotationCertificate] = string(cert)
		if len(chain) > 0 {
			ann[annotationChain] = string(chain)
		}
		return cert, nil
	}
	pub, err := s.PublicKey()
	if err != nil {
		return nil, err
	}
	return cryptoutils.MarshalPublicKeyToPEM(pub)
}

func logEntry(ctx context.Context, l TransparencyLogger, entry []byte, ann map[string]string) error {
	b, err := l.LogEntry(ctx, entry)
	if err != nil {
		return fmt.Errorf("transparency log: %w", err)
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return err
	}
	ann[annotationBundle] = string(raw)
	return nil
}

// hashedRekord is the Rekor entry (hashedrekord 0.0.1) for a simple-signing signature.
func hashedRekord(body, sig, keyPEM []byte) []byte {
	sum := sha256.Sum256(body)
	e := map[string]any{
		"apiVersion": "0.0.1",
		"kind":       "hashedrekord",
		"spec": map[string]any{
			"data": map[string]any{"hash": map[string]string{"algorithm": "sha256", "value": hex.EncodeToString(sum[:])}},
			"signature": map[string]any{
				"content":   base64.StdEncoding.EncodeToString(sig),
				"publicKey": map[string]string{"content": base64.StdEncoding.EncodeToString(keyPEM)},
			},
		},
	}
	raw, _ := json.Marshal(e) // maps of strings always marshal
	return raw
}

// appendLayer adds a layer to the manifest at tag (creating it if missing), as cosign does;
// a layer with the same content and annotations already there is not added twice.
func appendLayer(ctx context.Context, tag name.Tag, blob []byte, mt types.MediaType, ann map[string]string, opts []remote.Option) error {
	opts = append(append([]remote.Option(nil), opts...), remote.WithContext(ctx))
	base, err := remote.Image(tag, opts...)
	switch {
	case isNotFound(err):
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	case err != nil:
		return fmt.Errorf("reading %s: %w", tag, err)
	}
	layer := static.NewLayer(blob, mt)
	if dup, err := hasLayer(base, layer, ann); err != nil {
		return fmt.Errorf("reading %s: %w", tag, err)
	} else if dup {
		return nil
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, Annotations: ann, MediaType: mt})
	if err != nil {
		return fmt.Errorf("writing %s: %w", tag, err)
	}
	if err := remote.Write(tag, img, opts...); err != nil {
		return fmt.Errorf("writing %s: %w", tag, err)
	}
	return nil
}

func hasLayer(img v1.Image, l v1.Layer, ann map[string]string) (bool, error) {
	d, err := l.Digest()
	if err != nil {
		return false, err
	}
	m, err := img.Manifest()
	if err != nil {
		return false, err
	}
	for _, have := range m.Layers {
		if have.Digest == d && sameAnnotations(have.Annotations, ann) {
			return true, nil
		}
	}
	return false, nil
}

func sameAnnotations(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
