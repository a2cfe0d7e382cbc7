package policy

import (
	"fmt"

	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/workload"
)

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
		return unpinnedImages(in, func(c workload.ContainerRef, _ imageref.Reference) string {
			return fmt.Sprintf("image %q is not pinned by digest", c.Container.Image)
		})
	},
}
