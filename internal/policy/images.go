package policy

import (
	"sync"

	"github.com/openvex/go-vex/pkg/vex"

	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
	"github.com/outrider-sec/outrider/internal/imagetrust/vuln"
	"github.com/outrider-sec/outrider/internal/workload"
)

// ImageRules are a policy's compiled image settings.
type ImageRules struct {
	// Allowed is the registry allowlist; empty allows every registry.
	Allowed *imageref.Allowlist
	// Vulnerabilities is the vulnerability gate; nil when the policy has none.
	Vulnerabilities *VulnerabilityRules
	// PinDigests asks the mutating webhook to rewrite tags to digests.
	PinDigests bool
	// Trust holds the signature and attestation rules; nil when the policy has none.
	Trust *TrustRules
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
	// Trust returns what the registry holds about the image ref names: its digest, signatures
	// and attestations. Nil when nothing was gathered for it.
	Trust(ref imageref.Reference) *ImageTrust
	// VEX returns the OpenVEX documents that apply to reports read from the registry.
	VEX() []*vex.VEX
}

// ImageTrust is what the registry held about one image when the front end asked.
type ImageTrust struct {
	// Digest is the digest the reference named ("sha256:…").
	Digest string
	// Evidence is the image's signatures and attestations, unverified; nil when Err is set.
	Evidence *signature.Evidence
	// Err says why the registry could not be asked (it names the registry and the image).
	Err error

	memo sync.Map // verification results by rule, computed once per gathered image
}

// remember returns the value memoised under key, computing it once.
func (t *ImageTrust) remember(key string, compute func() any) any {
	if v, ok := t.memo.Load(key); ok {
		return v
	}
	v, _ := t.memo.LoadOrStore(key, compute())
	return v
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
