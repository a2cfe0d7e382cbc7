package policy

import (
	"slices"

	"github.com/outrider-sec/outrider/internal/workload"
)

// VerifiedAuthorities returns the signing authorities that vouch for every image obj runs:
// the names of the authorities that verified, under a signature rule of a policy that applies
// to obj, the image of each of its containers (all three lists, the mesh injector's own left
// out), intersected over the containers. An image no rule covers, or that nothing verified,
// makes the result empty: provenance is claimed for all of a pod's code or not at all. The
// engine must carry the registry's data for the images (WithImageData).
func (e *Engine) VerifiedAuthorities(obj *workload.Object, ns Namespace) []string {
	if obj.Template == nil || e.imageData == nil {
		return nil
	}
	policies := e.matching(obj, ns)
	_, containers := e.withoutInjected(obj.Template)
	var common []string
	for i, c := range containers {
		ref, err := parsedImage(c)
		if err != nil {
			return nil
		}
		t := e.imageData.Trust(ref)
		if t == nil || t.Evidence == nil {
			return nil
		}
		var signers []string
		for _, p := range policies {
			if p.images.Trust == nil {
				continue
			}
			for _, rule := range p.images.Trust.Signatures {
				if !rule.Images.Matches(ref) {
					continue
				}
				if res := t.signatures(rule, e.now()); len(res.Signers) >= rule.Threshold {
					signers = append(signers, res.Signers...)
				}
			}
		}
		slices.Sort(signers)
		signers = slices.Compact(signers)
		if i == 0 {
			common = signers
		} else {
			common = slices.DeleteFunc(common, func(s string) bool { return !slices.Contains(signers, s) })
		}
		if len(common) == 0 {
			return nil
		}
	}
	return common
}
