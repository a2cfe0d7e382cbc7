package vuln

import (
	"strings"
	"time"

	"github.com/outrider-sec/outrider/internal/severity"
)

// Report is a vulnerability scan of one image, whatever scanner and format produced it.
type Report struct {
	// Artifact is the image the report is about.
	Artifact Artifact
	// CreatedAt is when the scan ran; zero when the report does not say.
	CreatedAt time.Time
	// Scanner names the scanner and its version, like "trivy 0.50.1".
	Scanner string
	// Format is the document format: "trivy", "grype", "sarif" or "cosign-attestation".
	Format string
	// Findings are the vulnerabilities found, in report order.
	Findings []Finding
}

// Artifact identifies the scanned image.
type Artifact struct {
	// Name is the image reference the scanner was given, like "ghcr.io/acme/api:1.4".
	Name string
	// Digest is the image's repository (manifest or index) digest, "sha256:…", when known: the
	// digest a pod would pin. A Trivy ImageID (the config digest) is never used as Digest.
	Digest string
}

// Label names the artifact for people: its name, else its digest.
func (a Artifact) Label() string {
	if a.Name != "" {
		return a.Name
	}
	return a.Digest
}

// Finding is one vulnerability in one package.
type Finding struct {
	// ID is the vulnerability's identifier, like "CVE-2024-3094" or "GHSA-…".
	ID string
	// Aliases are other identifiers of the same vulnerability (Grype's related vulnerabilities).
	Aliases []string
	// Package is the affected package's name.
	Package string
	// PURL is the package URL of the affected package, when the scanner gives one.
	PURL             string
	InstalledVersion string
	// FixedVersion lists the versions that fix it; empty when no fix is known.
	FixedVersion string
	Severity     Severity
	// CVSS is the CVSS base score (v3 preferred, NVD first); 0 when unknown.
	CVSS float64
}

// Fixed reports whether a fixed version is known.
func (f Finding) Fixed() bool { return strings.TrimSpace(f.FixedVersion) != "" }

// Severity ranks a vulnerability, on the same scale as policy findings.
type Severity = severity.Severity

// The severities, lowest first.
const (
	SeverityInfo     = severity.Info
	SeverityLow      = severity.Low
	SeverityMedium   = severity.Medium
	SeverityHigh     = severity.High
	SeverityCritical = severity.Critical
)

// NormaliseSeverity maps a scanner's severity name onto Severity, case-insensitively:
// CRITICAL; HIGH and IMPORTANT; MEDIUM and MODERATE; LOW; NEGLIGIBLE, INFO, INFORMATIONAL and
// NONE are info. UNKNOWN, an empty name or any other word takes the CVSS v3 rating of cvss when
// it is above 0, and info otherwise: both Trivy and Grype rank UNKNOWN below LOW.
func NormaliseSeverity(name string, cvss float64) Severity {
	if s, ok := severityWord(name); ok {
		return s
	}
	return CVSSRating(cvss)
}

// severityWord recognises a scanner's severity name; UNKNOWN and other words are not one.
func severityWord(name string) (Severity, bool) {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "CRITICAL":
		return SeverityCritical, true
	case "HIGH", "IMPORTANT":
		return SeverityHigh, true
	case "MEDIUM", "MODERATE":
		return SeverityMedium, true
	case "LOW":
		return SeverityLow, true
	case "NEGLIGIBLE", "INFO", "INFORMATIONAL", "NONE":
		return SeverityInfo, true
	}
	return "", false
}

// CVSSRating is the CVSS v3 qualitative rating of a base score: 9.0 and above critical, 7.0
// high, 4.0 medium, above 0 low, and info for 0 (CVSS "none").
func CVSSRating(score float64) Severity {
	switch {
	case score >= 9:
		return SeverityCritical
	case score >= 7:
		return SeverityHigh
	case score >= 4:
		return SeverityMedium
	case score > 0:
		return SeverityLow
	}
	return SeverityInfo
}
