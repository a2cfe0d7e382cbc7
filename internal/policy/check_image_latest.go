package policy

import "fmt"

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
		var out []Violation
		for _, c := range in.Containers {
			ref, err := parsedImage(c)
			if err != nil || ref.Pinned() {
				continue
			}
			switch ref.Tag {
			case "":
				out = append(out, containerViolation(c, "image", fmt.Sprintf("image %q has no tag, so it runs whatever latest is at pull time", c.Container.Image)))
			case "latest":
				out = append(out, containerViolation(c, "image", fmt.Sprintf("image %q uses the latest tag", c.Container.Image)))
			}
		}
		return out
	},
}
