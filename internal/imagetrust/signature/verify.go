package signature

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SignatureResult is the outcome of VerifySignatures.
type SignatureResult struct {
	// Signers are the distinct names of the authorities that verified at least one signature
	// of the image, sorted. A threshold counts these.
	Signers []string
	// Reasons say, one line each, why signatures that no authority verified were refused
	// ("signature 1 (sha256-….sig layer 0): not signed by any trusted authority").
	Reasons []string
}

// VerifySignatures checks every candidate signature against auths and reports which
// authorities signed the image. A signature counts only when its payload names this image's
// digest. now is the time certificates must be valid at when no transparency log dates them.
func (e *Evidence) VerifySignatures(auths []*Authority, now time.Time) SignatureResult {
	var r SignatureResult
	if len(e.signatures) == 0 {
		r.Reasons = append(r.Reasons, fmt.Sprintf("no signatures found for %s", e.Digest))
	}
	digest := e.Digest.DigestStr()
	for i, c := range e.signatures {
		names, err := verifyCandidate(c, auths, now)
		if err == nil {
			err = checkSignatureBinding(c, digest)
		}
		if err != nil {
			r.Reasons = append(r.Reasons, fmt.Sprintf("signature %d (%s): %v", i+1, c.source, err))
			continue
		}
		r.Signers = append(r.Signers, names...)
	}
	r.Signers = distinct(r.Signers)
	return r
}

// checkSignatureBinding checks that a verified signature is about this image.
func checkSignatureBinding(c *candidate, digest string) error {
	if !c.dsse {
		return checkSimpleSigning(c.payload, digest)
	}
	st, err := parseStatement(c.payloadType, c.payload, digest)
	if err != nil {
		return err
	}
	if st.PredicateType != CosignSignPredicateType {
		return fmt.Errorf("bundle statement has predicate type %q, not %q", st.PredicateType, CosignSignPredicateType)
	}
	return nil
}

// verifyCandidate returns the names of the authorities that verify c, or why none does.
func verifyCandidate(c *candidate, auths []*Authority, now time.Time) ([]string, error) {
	var names, reasons []string
	for _, a := range auths {
		err := a.verify(c, now)
		switch {
		case err == nil:
			names = append(names, a.name)
		case errors.Is(err, errNotSigned):
		default:
			reasons = append(reasons, fmt.Sprintf("authority %q: %v", a.name, err))
		}
	}
	switch {
	case len(names) > 0:
		return names, nil
	case len(reasons) > 0:
		return nil, errors.New(strings.Join(distinct(reasons), "; "))
	}
	return nil, errNotSigned
}

func distinct(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
