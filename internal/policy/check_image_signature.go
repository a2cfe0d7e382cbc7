package policy

import (
	"fmt"
	"strings"

	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
	"github.com/outrider-sec/outrider/internal/workload"
)

// image.signature: images run only when trusted authorities signed their digest.
//
// Restricted: every container image (all three lists) that a spec.images.signatures rule's
// patterns match, judged by the signatures the registry holds for the image's digest (cosign's
// "sha256-<digest>.sig" tag and the OCI referrers). A rule is met when Threshold different
// authorities each made at least one valid signature over that very digest; a signature made
// for another digest (a tag re-pushed after signing) does not count. One violation per image
// and rule, naming the authorities that signed and those missing, and why the signatures found
// did not verify. An image the registry could not be asked about is a violation too, or, under
// onRegistryError Allow, an info finding that admission shows as a warning.
var checkImageSignature = &Check{
	ID:       "image.signature",
	Title:    "Images signed by trusted authorities",
	Severity: SeverityHigh,
	Remediation: "Sign the digest you deploy in the pipeline (cosign sign --key …, or outrider image sign) with a key " +
		"or identity the policy trusts, and deploy that digest.",
	DefaultOn: true,
	Eval: func(in *Input) []Violation {
		if in.Images == nil || in.Images.Trust == nil {
			return nil
		}
		return judgeTrustRules(in, in.Images.Trust.Signatures, func(r *SignatureRule) imageref.Patterns { return r.Images },
			func(t *ImageTrust, rule *SignatureRule) string {
				if res := t.signatures(rule, in.Now); len(res.Signers) < rule.Threshold {
					return signatureMessage(rule, res)
				}
				return ""
			})
	},
}

// trustViolation is the violation of an image the front end could not learn about: nothing
// gathered (an offline scan), or a registry error. ok is false when there is evidence to judge.
func trustViolation(in *Input, c workload.ContainerRef, ref imageref.Reference) (Violation, bool) {
	var t *ImageTrust
	if in.ImageData != nil {
		t = in.ImageData.Trust(ref)
	}
	switch {
	case t == nil:
		return containerViolation(c, "image", fmt.Sprintf("image %q was not verified: nothing was read from its registry (an offline scan?)", c.Container.Image)), true
	case t.Err != nil && in.Images.Trust.AllowOnRegistryError:
		v := containerViolation(c, "image", fmt.Sprintf("image %q was not verified, and is admitted because onRegistryError is Allow: %v", c.Container.Image, t.Err))
		v.Severity = SeverityInfo
		return v, true
	case t.Err != nil:
		return containerViolation(c, "image", fmt.Sprintf("image %q could not be verified: %v", c.Container.Image, t.Err)), true
	}
	return Violation{}, false
}

// signatureMessage, after `image "x" (sha256:0123456789ab) `: `is signed by 1 of the 2
// authorities required (ci); missing: release; signature 2: not signed by a trusted authority`.
func signatureMessage(rule *SignatureRule, res signature.SignatureResult) string {
	var b strings.Builder
	if len(res.Signers) == 0 {
		fmt.Fprintf(&b, "is not signed by %s", authorityList(rule.Authorities, rule.Threshold))
	} else {
		fmt.Fprintf(&b, "is signed by %d of the %d authorities required (%s); missing: %s",
			len(res.Signers), rule.Threshold, strings.Join(res.Signers, ", "), strings.Join(missingAuthorities(rule.Authorities, res.Signers), ", "))
	}
	if len(res.Reasons) == 0 && len(res.Signers) == 0 {
		b.WriteString("; the registry holds no signature for this digest")
	}
	for _, p := range firstN(res.Reasons, 3) {
		b.WriteString("; " + p)
	}
	return b.String()
}

// authorityList names authorities for a message: "ci", "any of ci, release", "2 of ci, a, b".
func authorityList(auths []*signature.Authority, threshold int) string {
	names := authorityNames(auths)
	switch {
	case len(names) == 1:
		return names[0]
	case threshold <= 1:
		return "any of " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("%d of %s", threshold, strings.Join(names, ", "))
}

func authorityNames(auths []*signature.Authority) []string {
	names := make([]string, 0, len(auths))
	for _, a := range auths {
		names = append(names, a.Name())
	}
	return names
}

func missingAuthorities(auths []*signature.Authority, signers []string) []string {
	have := map[string]bool{}
	for _, s := range signers {
		have[s] = true
	}
	var out []string
	for _, a := range auths {
		if !have[a.Name()] {
			out = append(out, a.Name())
		}
	}
	return out
}

// shortDigest shortens "sha256:<64 hex>" to "sha256:<12 hex>" for messages.
func shortDigest(d string) string {
	if algo, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return algo + ":" + hex[:12]
	}
	return d
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("+%d more", len(s)-n))
	}
	return s
}
