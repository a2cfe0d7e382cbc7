package signature

import (
	"encoding/json"
	"fmt"
	"time"
)

// Statement is a verified in-toto statement about the image.
type Statement struct {
	// Signers are the names of the authorities that verified its envelope, sorted.
	Signers []string `json:"signers"`
	// PredicateType is the statement's predicate type URI.
	PredicateType string `json:"predicateType"`
	// Predicate is the statement's predicate, raw JSON.
	Predicate json.RawMessage `json:"predicate"`
	// Source says where on the registry it was found.
	Source string `json:"source"`
}

// AttestationResult is the outcome of VerifyAttestations.
type AttestationResult struct {
	// Statements are the verified statements of the requested predicate type.
	Statements []Statement
	// Reasons say why attestations of that type were refused, one line each.
	Reasons []string
}

// Signers are the distinct names of the authorities that verified at least one statement.
func (r AttestationResult) Signers() []string {
	var names []string
	for _, s := range r.Statements {
		names = append(names, s.Signers...)
	}
	return distinct(names)
}

// VerifyAttestations checks the image's attestations of predicateType (a URI; see
// PredicateTypeURI; empty means any type) against auths. A DSSE signature signs
// PAE(payloadType, payload); the payload must be an in-toto statement whose subject is this
// image's digest. now is as for VerifySignatures.
func (e *Evidence) VerifyAttestations(predicateType string, auths []*Authority, now time.Time) AttestationResult {
	var r AttestationResult
	digest := e.Digest.DigestStr()
	found := 0
	for i, c := range e.attestations {
		claimed := statementPredicate(&envelope{payloadType: c.payloadType, payload: c.payload})
		if predicateType != "" && claimed != predicateType {
			continue
		}
		found++
		names, err := verifyCandidate(c, auths, now)
		var st *statement
		if err == nil {
			st, err = parseStatement(c.payloadType, c.payload, digest)
		}
		if err != nil {
			r.Reasons = append(r.Reasons, fmt.Sprintf("attestation %d (%s): %v", i+1, c.source, err))
			continue
		}
		r.Statements = append(r.Statements, Statement{
			Signers: distinct(names), PredicateType: st.PredicateType, Predicate: st.Predicate, Source: c.source,
		})
	}
	if found == 0 {
		what := "attestations"
		if predicateType != "" {
			what = fmt.Sprintf("attestations of type %s", predicateType)
		}
		r.Reasons = append(r.Reasons, fmt.Sprintf("no %s found for %s", what, e.Digest))
	}
	return r
}
