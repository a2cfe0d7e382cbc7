package vuln

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// PredicateVuln is the predicate type of cosign vulnerability attestations.
const PredicateVuln = "https://cosign.sigstore.dev/attestation/vuln/v1"

// inTotoPayloadType is the DSSE payload type of an in-toto statement.
const inTotoPayloadType = "application/vnd.in-toto+json"

// statement is an in-toto statement (v0.1 or v1) holding a cosign vulnerability predicate.
type statement struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate struct {
		Scanner struct {
			URI     string          `json:"uri"`
			Version string          `json:"version"`
			Result  json.RawMessage `json:"result"`
		} `json:"scanner"`
		Metadata struct {
			ScanStartedOn  *time.Time `json:"scanStartedOn"`
			ScanFinishedOn *time.Time `json:"scanFinishedOn"`
		} `json:"metadata"`
	} `json:"predicate"`
}

// parseStatement reads a cosign vulnerability attestation: predicate.scanner.result is a Trivy,
// Grype or SARIF document, read with parse. The subject's sha256 digest is the artifact's digest
// (a result about another digest is refused); the scan time is metadata.scanFinishedOn, else
// scanStartedOn, else the result's own. Signatures are not checked here: the caller verifies
// the envelope before trusting it.
func parseStatement(data []byte) (*Report, error) {
	var st statement
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("in-toto statement: %w", err)
	}
	if st.PredicateType != PredicateVuln {
		return nil, fmt.Errorf("in-toto statement: predicate type %q is not a vulnerability attestation (want %s)", st.PredicateType, PredicateVuln)
	}
	if len(st.Subject) == 0 {
		return nil, errors.New("vulnerability attestation: no subject")
	}
	subj := st.Subject[0]
	digest := ""
	if hex := subj.Digest["sha256"]; hex != "" {
		digest = "sha256:" + strings.ToLower(hex)
		if !validDigest(digest) {
			return nil, fmt.Errorf("vulnerability attestation: subject[0].digest.sha256 %q is not 64 hex digits", hex)
		}
	}
	res := st.Predicate.Scanner.Result
	if len(res) == 0 || string(res) == "null" {
		return nil, errors.New("vulnerability attestation: predicate.scanner.result is empty")
	}
	r, err := parse(res, false)
	if err != nil {
		return nil, fmt.Errorf("vulnerability attestation: predicate.scanner.result: %w", err)
	}
	if digest != "" && r.Artifact.Digest != "" && r.Artifact.Digest != digest {
		return nil, fmt.Errorf("vulnerability attestation: the scan result is about %s but the subject is %s", r.Artifact.Digest, digest)
	}
	if digest != "" {
		r.Artifact.Digest = digest
	}
	if r.Artifact.Name == "" {
		r.Artifact.Name = subj.Name
	}
	if md := st.Predicate.Metadata; md.ScanFinishedOn != nil {
		r.CreatedAt = *md.ScanFinishedOn
	} else if md.ScanStartedOn != nil {
		r.CreatedAt = *md.ScanStartedOn
	}
	if r.Scanner == "" {
		r.Scanner = strings.TrimSpace(st.Predicate.Scanner.URI + " " + st.Predicate.Scanner.Version)
	}
	r.Format = "cosign-attestation"
	return r, nil
}

// parseEnvelope reads a DSSE envelope whose payload is an in-toto statement, as `cosign
// download attestation` prints it. The signatures are not verified here.
func parseEnvelope(data []byte) (*Report, error) {
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("DSSE envelope: %w", err)
	}
	if env.PayloadType != inTotoPayloadType {
		return nil, fmt.Errorf("DSSE envelope: payload type %q is not %s", env.PayloadType, inTotoPayloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		payload, err = base64.URLEncoding.DecodeString(env.Payload)
	}
	if err != nil {
		return nil, fmt.Errorf("DSSE envelope: payload is not base64: %w", err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(payload, &keys); err != nil || keys["predicateType"] == nil {
		return nil, errors.New("DSSE envelope: the payload is not an in-toto statement")
	}
	return parseStatement(payload)
}

// ParseVerifiedPredicate reads the predicate of a cosign vulnerability attestation whose
// envelope the caller verified, about the image digest ("sha256:…") named name.
func ParseVerifiedPredicate(predicate json.RawMessage, name, digest string) (*Report, error) {
	type subject struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	}
	st := struct {
		Type          string          `json:"_type"`
		PredicateType string          `json:"predicateType"`
		Subject       []subject       `json:"subject"`
		Predicate     json.RawMessage `json:"predicate"`
	}{"https://in-toto.io/Statement/v0.1", PredicateVuln,
		[]subject{{Name: name, Digest: map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")}}}, predicate}
	data, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("vulnerability attestation: %w", err)
	}
	return parseStatement(data)
}
