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

// parsedImage parses a container's image for the image checks. An image that does
// not parse is reported by image.registry; the other checks skip it.
func parsedImage(c workload.ContainerRef) (imageref.Reference, error) {
	return imageref.Parse(c.Container.Image)
}
