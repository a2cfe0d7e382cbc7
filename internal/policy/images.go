package policy

import (
	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/imagetrust/vuln"
	"github.com/outrider-sec/outrider/internal/workload"
)

// ImageRules are a policy's compiled image settings.
type ImageRules struct {
	// Allowed is the registry allowlist; empty allows every registry.
	Allowed *imageref.Allowlist
	// Vulnerabilities is the vulnerability gate; nil when the policy has none.
	Vulnerabilities *VulnerabilityRules
}

// ImageData is what the engine knows of images beyond their references, gathered by the front
// end before evaluation (scan reads report files; the controller will read attestations).
// Its methods must not do I/O and must be safe for concurrent use.
type ImageData interface {
	// VulnerabilityReport returns the report for ref with VEX applied, nil when there is none.
	VulnerabilityReport(ref imageref.Reference) *vuln.EvaluatedReport
	// RequireVulnerabilityReport says whether an image without a report is a finding
	// (image.reportAge) under a policy with a vulnerability gate.
	RequireVulnerabilityReport() bool
}

// ImageSubject is an image judged on its own, outside any workload (Engine.EvaluateImage).
type ImageSubject struct {
	// Name names the image in findings, like "ghcr.io/acme/api:1.4".
	Name string
	// Report is the image's vulnerability report.
	Report *vuln.EvaluatedReport
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
