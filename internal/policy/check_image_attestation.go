package policy

import (
	"fmt"
	"strings"

	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

// image.attestation: images run only with the signed attestations a policy requires, like SLSA
// provenance from the organisation's builder and source repositories.
//
// Restricted: every container image (all three lists) that a spec.images.attestations rule's
// patterns match, judged by the in-toto attestations the registry holds for the image's digest
// (cosign's "sha256-<digest>.att" tag and the OCI referrers). A rule is met by a statement of
// its predicate type about that digest, signed by Threshold different authorities, whose
// provenance (for SLSA predicates) names an accepted builder ID and source repository. One
// violation per image and rule, saying what was found and why it did not count.
var checkImageAttestation = &Check{
	ID:       "image.attestation",
	Title:    "Images carry the required signed attestations",
	Severity: SeverityHigh,
	Remediation: "Attest the digest you deploy in the pipeline (cosign attest --key … --type slsaprovenance, or your " +
		"builder's provenance) with a key the policy trusts.",
	DefaultOn: true,
	Eval: func(in *Input) []Violation {
		if in.Images == nil || in.Images.Trust == nil {
			return nil
		}
		return judgeTrustRules(in, in.Images.Trust.Attestations, func(r *AttestationRule) imageref.Patterns { return r.Images },
			func(t *ImageTrust, rule *AttestationRule) string {
				return t.remember(fmt.Sprintf("att|%p", rule), func() any { return attestationProblem(t, rule, in) }).(string)
			})
	},
}

// attestationProblem returns why no attestation meets rule, or "" when one does.
func attestationProblem(t *ImageTrust, rule *AttestationRule, in *Input) string {
	res := t.Evidence.VerifyAttestations(rule.PredicateType, rule.Authorities, in.Now)
	var reasons []string
	for _, st := range res.Statements {
		if len(st.Signers) < rule.Threshold {
			reasons = append(reasons, fmt.Sprintf("one is signed by %d of the %d authorities required (%s)",
				len(st.Signers), rule.Threshold, strings.Join(st.Signers, ", ")))
			continue
		}
		why := provenanceProblem(st, rule)
		if why == "" {
			return ""
		}
		reasons = append(reasons, why)
	}
	msg := fmt.Sprintf("has no %s attestation signed by %s", rule.PredicateType, authorityList(rule.Authorities, rule.Threshold))
	if len(reasons) == 0 && len(res.Reasons) == 0 {
		return msg + "; the registry holds no attestation of that type for this digest"
	}
	for _, r := range firstN(append(reasons, res.Reasons...), 3) {
		msg += "; " + r
	}
	return msg
}

// provenanceProblem checks a verified SLSA statement against the rule's builders and sources.
func provenanceProblem(st signature.Statement, rule *AttestationRule) string {
	if len(rule.BuilderIDs) == 0 && len(rule.SourceRepositories) == 0 {
		return ""
	}
	prov, err := signature.ParseProvenance(st)
	if err != nil {
		return "one does not read as SLSA provenance: " + err.Error()
	}
	if len(rule.BuilderIDs) > 0 && !anyPrefixMatch(rule.BuilderIDs, prov.BuilderID) {
		return fmt.Sprintf("one was built by %q, not by an accepted builder (%s)", prov.BuilderID, strings.Join(rule.BuilderIDs, ", "))
	}
	if len(rule.SourceRepositories) > 0 {
		for _, src := range prov.SourceURIs {
			if anyPrefixMatch(rule.SourceRepositories, src) {
				return ""
			}
		}
		return fmt.Sprintf("one was built from %s, not from an accepted repository (%s)",
			orNone(prov.SourceURIs), strings.Join(rule.SourceRepositories, ", "))
	}
	return ""
}

// anyPrefixMatch matches s exactly, or by prefix against an entry ending in "*".
func anyPrefixMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(s, prefix) || p == s {
			return true
		}
	}
	return false
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no named repository"
	}
	return strings.Join(s, ", ")
}
