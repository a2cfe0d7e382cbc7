package signature

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
)

// rekorBody is the union of the Rekor entry kinds cosign writes: hashedrekord 0.0.1 for
// simple-signing signatures, intoto 0.0.2 for legacy attestations, dsse 0.0.1 for bundles.
type rekorBody struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		// hashedrekord
		Data struct {
			Hash rekorHash `json:"hash"`
		} `json:"data"`
		Signature struct {
			Content   string `json:"content"`
			PublicKey struct {
				Content string `json:"content"`
			} `json:"publicKey"`
		} `json:"signature"`
		// intoto 0.0.2
		Content struct {
			PayloadHash rekorHash `json:"payloadHash"`
			Envelope    struct {
				Signatures []struct {
					Sig       string `json:"sig"`
					PublicKey string `json:"publicKey"`
				} `json:"signatures"`
			} `json:"envelope"`
		} `json:"content"`
		// dsse 0.0.1
		PayloadHash rekorHash `json:"payloadHash"`
		Signatures  []struct {
			Signature string `json:"signature"`
			Verifier  string `json:"verifier"`
		} `json:"signatures"`
	} `json:"spec"`
}

type rekorHash struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value"`
}

// checkTlogBody checks that the log entry records this signature: the payload's hash, the
// signature bytes and the signer's certificate (DER). Cosign's check, without Rekor's types.
func checkTlogBody(body []byte, c *candidate, sig, signerDER []byte) error {
	var b rekorBody
	if err := json.Unmarshal(body, &b); err != nil {
		return fmt.Errorf("transparency log entry body: %v", err)
	}
	sum := sha256.Sum256(c.payload)
	payloadHash := hex.EncodeToString(sum[:])
	type pair struct{ sig, key string }
	var hash rekorHash
	var pairs []pair
	switch kind := b.Kind + " " + b.APIVersion; {
	case kind == "hashedrekord 0.0.1" && !c.dsse:
		hash = b.Spec.Data.Hash
		pairs = append(pairs, pair{b.Spec.Signature.Content, b.Spec.Signature.PublicKey.Content})
	case kind == "intoto 0.0.2" && c.dsse:
		hash = b.Spec.Content.PayloadHash
		for _, s := range b.Spec.Content.Envelope.Signatures {
			pairs = append(pairs, pair{s.Sig, s.PublicKey})
		}
	case kind == "dsse 0.0.1" && c.dsse:
		hash = b.Spec.PayloadHash
		for _, s := range b.Spec.Signatures {
			pairs = append(pairs, pair{s.Signature, s.Verifier})
		}
	default:
		return fmt.Errorf("transparency log entry of kind %q version %q does not fit this signature", b.Kind, b.APIVersion)
	}
	if hash.Algorithm != "sha256" || !strings.EqualFold(hash.Value, payloadHash) {
		return fmt.Errorf("transparency log entry records payload hash %s:%s, not sha256:%s", hash.Algorithm, hash.Value, payloadHash)
	}
	for _, p := range pairs {
		if sameSignature(p.sig, sig) && sameKey(p.key, signerDER) {
			return nil
		}
	}
	return fmt.Errorf("transparency log entry records another signature or signer")
}

// sameSignature compares a log entry's base64 signature with sig. intoto 0.0.2 entries
// encode the envelope's (already base64) signature a second time.
func sameSignature(b64 string, sig []byte) bool {
	got, err := decodeBase64(b64)
	if err != nil {
		return false
	}
	if bytes.Equal(got, sig) {
		return true
	}
	again, err := decodeBase64(string(got))
	return err == nil && bytes.Equal(again, sig)
}

// sameKey compares a log entry's base64 PEM (certificate or key) with the signer's DER.
func sameKey(b64 string, der []byte) bool {
	raw, err := decodeBase64(b64)
	if err != nil {
		return false
	}
	block, _ := pem.Decode(raw)
	return block != nil && bytes.Equal(block.Bytes, der)
}
