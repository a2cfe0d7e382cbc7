package signature

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	sigsig "github.com/sigstore/sigstore/pkg/signature"
)

// Attest signs an in-toto v0.1 statement about the image digestRef, with predicateType (a
// URI; see PredicateTypeURI) and predicate (JSON), and writes it as cosign attest does: a
// DSSE envelope layer appended to the manifest at <repo>:sha256-<hex>.att.
func Attest(ctx context.Context, digestRef name.Digest, s sigsig.Signer, predicateType string, predicate []byte, opts ...remote.Option) error {
	if predicateType == "" {
		return errors.New("attesting: a predicate type is required")
	}
	if !json.Valid(predicate) {
		return fmt.Errorf("attesting %s: the predicate is not JSON", digestRef)
	}
	alg, hexDigest, _ := strings.Cut(digestRef.DigestStr(), ":")
	st, err := json.Marshal(map[string]any{
		"_type":         statementV01,
		"predicateType": predicateType,
		"subject":       []subject{{Name: digestRef.Context().Name(), Digest: map[string]string{alg: hexDigest}}},
		"predicate":     json.RawMessage(predicate),
	})
	if err != nil {
		return fmt.Errorf("attesting %s: %w", digestRef, err)
	}
	sig, err := s.SignMessage(bytes.NewReader(pae(InTotoPayloadType, st)))
	if err != nil {
		return fmt.Errorf("attesting %s: %w", digestRef, err)
	}
	env, err := json.Marshal(envelopeJSON{
		PayloadType: InTotoPayloadType,
		Payload:     base64.StdEncoding.EncodeToString(st),
		Signatures: []struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		}{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		return fmt.Errorf("attesting %s: %w", digestRef, err)
	}
	ann := map[string]string{annotationSignature: "", annotationPredicate: predicateType}
	keyPEM, err := signerMaterial(s, ann)
	if err != nil {
		return fmt.Errorf("attesting %s: %w", digestRef, err)
	}
	if l, ok := s.(TransparencyLogger); ok {
		if err := logEntry(ctx, l, intotoEntry(env, st, sig, keyPEM), ann); err != nil {
			return fmt.Errorf("attesting %s: %w", digestRef, err)
		}
	}
	return appendLayer(ctx, tagFor(digestRef, "att"), env, DSSEMediaType, ann, opts)
}

// intotoEntry is the Rekor entry (intoto 0.0.2) for a DSSE attestation. Rekor stores the
// envelope's base64 signature base64-encoded once more.
func intotoEntry(env, statement, sig, keyPEM []byte) []byte {
	envSum, stSum := sha256.Sum256(env), sha256.Sum256(statement)
	b64 := base64.StdEncoding.EncodeToString
	e := map[string]any{
		"apiVersion": "0.0.2",
		"kind":       "intoto",
		"spec": map[string]any{"content": map[string]any{
			"envelope": map[string]any{
				"payloadType": InTotoPayloadType,
				"signatures":  []map[string]string{{"sig": b64([]byte(b64(sig))), "publicKey": b64(keyPEM)}},
			},
			"hash":        map[string]string{"algorithm": "sha256", "value": hex.EncodeToString(envSum[:])},
			"payloadHash": map[string]string{"algorithm": "sha256", "value": hex.EncodeToString(stSum[:])},
		}},
	}
	raw, _ := json.Marshal(e) // maps of strings always marshal
	return raw
}
