package policy

import "fmt"

// image.registry: every image comes from an allowed registry.
//
// Restricted: the image of every container (containers, initContainers, ephemeralContainers).
// Allowed: references whose normalised registry host equals an allowlist entry's host, and whose
// repository starts with the entry's path on whole segments (imageref.Allowlist). An image that
// does not parse as a reference is a violation. With no allowlist, the check passes everything.
var checkImageRegistry = &Check{
	ID:          "image.registry",
	Title:       "Images from approved registries",
	Severity:    SeverityHigh,
	Remediation: "Pull the image from an approved registry (spec.images.allowedRegistries).",
	DefaultOn:   true,
	Eval: func(in *Input) []Violation {
		if in.Images == nil || in.Images.Allowed.Empty() {
			return nil
		}
		var out []Violation
		for _, c := range in.Containers {
			ref, err := parsedImage(c)
			if err != nil {
				out = append(out, containerViolation(c, "image", err.Error()))
				continue
			}
			if !in.Images.Allowed.Allows(ref) {
				out = append(out, containerViolation(c, "image", fmt.Sprintf(
					"image %q comes from %s, which is not an approved registry (%s)", c.Container.Image, ref.Name(), in.Images.Allowed)))
			}
		}
		return out
	},
}
