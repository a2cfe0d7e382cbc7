package policy

import (
	"fmt"

	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/workload"
)

// image.latest: no image runs an implicit or explicit "latest" tag.
//
// Restricted: the image of every container. Violations: no tag and no digest (the runtime pulls
// "latest"), or the tag "latest" without a digest. Allowed: any other tag, or any digest.
var checkImageLatest = &Check{
	ID:          "image.latest",
	Title:       "No latest tag",
	Severity:    SeverityMedium,
	Remediation: "Use a fixed version tag or, better, a digest instead of latest.",
	DefaultOn:   true,
	Eval: func(in *Input) []Violation {
		return unpinnedImages(in, func(c workload.ContainerRef, ref imageref.Reference) string {
			switch ref.Tag {
			case "":
				return fmt.Sprintf("image %q has no tag, so it runs whatever latest is at pull time", c.Container.Image)
			case "latest":
				return fmt.Sprintf("image %q uses the latest tag", c.Container.Image)
			}
			return ""
		})
	},
}
