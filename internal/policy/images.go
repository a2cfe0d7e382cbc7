package policy

import (
	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/workload"
)

// ImageRules are a policy's compiled image settings.
type ImageRules struct {
	// Allowed is the registry allowlist; empty allows every registry.
	Allowed *imageref.Allowlist
}

// parsedImage parses a container's image for the image checks.
func parsedImage(c workload.ContainerRef) (imageref.Reference, error) {
	return imageref.Parse(c.Container.Image)
}

// unpinnedImages calls judge for each container whose image parses and is not pinned by
// digest, and collects the violations it returns. An image that does not parse is reported by
// image.registry alone; a pinned image runs what was pinned whatever its tag says.
func unpinnedImages(in *Input, judge func(c workload.ContainerRef, ref imageref.Reference) string) []Violation {
	var out []Violation
	for _, c := range in.Containers {
		ref, err := parsedImage(c)
		if err != nil || ref.Pinned() {
			continue
		}
		if msg := judge(c, ref); msg != "" {
			out = append(out, containerViolation(c, "image", msg))
		}
	}
	return out
}
