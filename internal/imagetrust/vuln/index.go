package vuln

import (
	"github.com/openvex/go-vex/pkg/vex"

	"github.com/outrider-sec/outrider/internal/imageref"
)

// EvaluatedReport is a report with OpenVEX applied: the findings that remain and those removed.
type EvaluatedReport struct {
	*Report
	// Source names where the report came from (a file, an attestation).
	Source string
	// Remaining are the findings no VEX statement removed.
	Remaining []Finding
	// Suppressed are the findings VEX statements removed, with the statement's status.
	Suppressed []Suppressed
}

// Evaluate applies the VEX documents to r.
func Evaluate(r *Report, source string, docs []*vex.VEX) *EvaluatedReport {
	remaining, suppressed := ApplyVEX(r, docs)
	return &EvaluatedReport{Report: r, Source: source, Remaining: remaining, Suppressed: suppressed}
}

// Index finds the report for an image reference among a fixed set of reports. It is safe for
// concurrent use once built.
type Index struct {
	reports []*EvaluatedReport
	keys    []artifactKey
}

// NewIndex indexes reports.
func NewIndex(reports []*EvaluatedReport) *Index {
	x := &Index{}
	for _, r := range reports {
		if r == nil || r.Report == nil {
			continue
		}
		x.reports = append(x.reports, r)
		x.keys = append(x.keys, newArtifactKey(r.Artifact))
	}
	return x
}

// Reports returns the indexed reports.
func (x *Index) Reports() []*EvaluatedReport { return x.reports }

// Lookup returns the report for ref, or nil. A reference pinned by digest matches only reports
// about that digest (whatever repository they name): the runtime runs the digest, and a report
// about a tag cannot show it scanned the same content. A reference by tag matches by name: the
// same normalised registry and repository and the same tag, where naming neither tag nor digest
// means "latest", as the runtime pulls it (the tag may have moved since the scan; the admission
// controller pins tags to digests). Among several matches the newest report wins.
func (x *Index) Lookup(ref imageref.Reference) *EvaluatedReport {
	var best *EvaluatedReport
	for i, k := range x.keys {
		if r := x.reports[i]; keyMatches(k, ref) && (best == nil || r.CreatedAt.After(best.CreatedAt)) {
			best = r
		}
	}
	return best
}

// keyMatches reports whether a report's image is ref.
func keyMatches(k artifactKey, ref imageref.Reference) bool {
	if ref.Digest != "" {
		return k.digest != "" && k.digest == ref.Digest
	}
	if !k.hasRef || k.ref.Name() != ref.Name() || (k.ref.Tag == "" && k.ref.Digest != "") {
		return false // a report named by digest alone is about no tag
	}
	return tagOf(ref) == tagOf(k.ref)
}

// tagOf is the tag a reference names, "latest" when it names none.
func tagOf(r imageref.Reference) string {
	if r.Tag != "" {
		return r.Tag
	}
	return "latest"
}
