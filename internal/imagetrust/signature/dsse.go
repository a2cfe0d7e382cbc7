package signature

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxEnvelopeSignatures bounds the signatures considered in one DSSE envelope.
const maxEnvelopeSignatures = 8

// envelope is a parsed DSSE envelope (https://github.com/secure-systems-lab/dsse).
type envelope struct {
	payloadType string
	payload     []byte
	sigs        [][]byte
}

type envelopeJSON struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	} `json:"signatures"`
}

// parseEnvelope reads a DSSE envelope in its JSON encoding.
func parseEnvelope(data []byte) (*envelope, error) {
	var e envelopeJSON
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("DSSE envelope: %v", err)
	}
	return e.parse()
}

func (e *envelopeJSON) parse() (*envelope, error) {
	if e.PayloadType == "" {
		return nil, errors.New("DSSE envelope: no payloadType")
	}
	payload, err := decodeBase64(e.Payload)
	if err != nil || len(payload) == 0 {
		return nil, errors.New("DSSE envelope: payload is not base64")
	}
	out := &envelope{payloadType: e.PayloadType, payload: payload}
	for i, s := range e.Signatures {
		if i == maxEnvelopeSignatures {
			break
		}
		sig, err := decodeBase64(s.Sig)
		if err != nil || len(sig) == 0 {
			continue // an unreadable signature verifies nothing; the others may
		}
		out.sigs = append(out.sigs, sig)
	}
	if len(out.sigs) == 0 {
		return nil, errors.New("DSSE envelope: no readable signature")
	}
	return out, nil
}

// pae is DSSE's pre-authentication encoding, the bytes a DSSE signature signs:
// "DSSEv1" SP len(type) SP type SP len(body) SP body.
func pae(payloadType string, payload []byte) []byte {
	var b strings.Builder
	b.Grow(len(payloadType) + len(payload) + 32)
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return []byte(b.String())
}

// statement is the part of an in-toto statement (v0.1 or v1) that verification reads.
type statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []subject       `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// in-toto statement types this package accepts.
const (
	statementV01 = "https://in-toto.io/Statement/v0.1"
	statementV1  = "https://in-toto.io/Statement/v1"
)

// parseStatement reads the in-toto statement a verified DSSE payload carries and checks that
// it is about the image digest ("sha256:<hex>").
func parseStatement(payloadType string, payload []byte, digest string) (*statement, error) {
	if payloadType != InTotoPayloadType {
		return nil, fmt.Errorf("DSSE payloadType %q is not %s", payloadType, InTotoPayloadType)
	}
	var st statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("in-toto statement: %v", err)
	}
	if st.Type != statementV01 && st.Type != statementV1 {
		return nil, fmt.Errorf("in-toto statement: unknown _type %q", st.Type)
	}
	if st.PredicateType == "" {
		return nil, errors.New("in-toto statement: no predicateType")
	}
	alg, hex, _ := strings.Cut(digest, ":")
	if hex == "" {
		return nil, fmt.Errorf("image digest %q is malformed", digest)
	}
	for _, s := range st.Subject {
		if s.Digest[alg] == hex {
			return &st, nil
		}
	}
	return nil, fmt.Errorf("in-toto statement is about other subjects, not %s (an attestation copied from another image)", digest)
}
