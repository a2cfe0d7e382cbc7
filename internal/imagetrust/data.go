package imagetrust

import (
	"github.com/openvex/go-vex/pkg/vex"

	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/imagetrust/vuln"
	"github.com/outrider-sec/outrider/internal/policy"
)

// Data is a policy.ImageData: what one evaluation knows about images, from report files (scan),
// from registries (Gathered), and the VEX documents that apply to reports read from registries.
type Data struct {
	// Reports are vulnerability reports given as files, nil when none were.
	Reports *vuln.Index
	// RequireReport makes an image without any report a finding under a vulnerability gate.
	RequireReport bool
	// Registry is what registries held about the images.
	Registry Gathered
	// VEXDocs apply to reports read from registries (file reports had theirs applied on reading).
	VEXDocs []*vex.VEX
}

var _ policy.ImageData = (*Data)(nil)

// VulnerabilityReport returns the file report for ref, nil when there is none.
func (d *Data) VulnerabilityReport(ref imageref.Reference) *vuln.EvaluatedReport {
	if d.Reports == nil {
		return nil
	}
	return d.Reports.Lookup(ref)
}

// RequireVulnerabilityReport says whether a missing report is a finding.
func (d *Data) RequireVulnerabilityReport() bool { return d.RequireReport }

// Trust returns what the registry held about ref, nil when it was not asked.
func (d *Data) Trust(ref imageref.Reference) *policy.ImageTrust { return d.Registry.Trust(ref) }

// VEX returns the documents for registry reports.
func (d *Data) VEX() []*vex.VEX { return d.VEXDocs }
