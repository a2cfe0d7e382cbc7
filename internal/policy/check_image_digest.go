package policy

import "fmt"

// image.digest: every image is pinned by digest.
//
// Restricted: the image of every container. Allowed: references with "@sha256:…". Off by
// default; spec.images.requireDigest or a check setting turns it on. The admission controller
// pins tags to digests itself where a policy asks for it.
var checkImageDigest = &Check{
	ID:          "image.digest",
	Title:       "Images pinned by digest",
	Severity:    SeverityMedium,
	Remediation: "Reference the image by digest (name@sha256:…) so a moved tag cannot change what runs.",
	DefaultOn:   false,
	Eval: func(in *Input) []Violation {
		var out []Violation
		for _, c := range in.Containers {
			ref, err := parsedImage(c)
			if err != nil || ref.Pinned() {
				continue
			}
			out = append(out, containerViolation(c, "image", fmt.Sprintf("image %q is not pinned by digest", c.Container.Image)))
		}
		return out
	},
}
