package vuln

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// trivyReport is the part of Trivy's JSON report (schema version 2) that gates use.
type trivyReport struct {
	SchemaVersion int       `json:"SchemaVersion"`
	CreatedAt     time.Time `json:"CreatedAt"`
	ArtifactName  string    `json:"ArtifactName"`
	Metadata      struct {
		ImageID     string   `json:"ImageID"`
		RepoDigests []string `json:"RepoDigests"`
	} `json:"Metadata"`
	Trivy struct {
		Version string `json:"Version"`
	} `json:"Trivy"`
	Results []struct {
		Target          string      `json:"Target"`
		Vulnerabilities []trivyVuln `json:"Vulnerabilities"`
	} `json:"Results"`
}

type trivyVuln struct {
	VulnerabilityID string `json:"VulnerabilityID"`
	PkgName         string `json:"PkgName"`
	PkgIdentifier   struct {
		PURL string `json:"PURL"`
	} `json:"PkgIdentifier"`
	InstalledVersion string                    `json:"InstalledVersion"`
	FixedVersion     string                    `json:"FixedVersion"`
	Severity         string                    `json:"Severity"`
	CVSS             map[string]trivyCVSSEntry `json:"CVSS"`
}

type trivyCVSSEntry struct {
	V3Score  float64 `json:"V3Score"`
	V40Score float64 `json:"V40Score"`
	V2Score  float64 `json:"V2Score"`
}

// parseTrivy reads `trivy image --format json`. The digest comes from Metadata.RepoDigests (the
// entry of ArtifactName's repository first), or from ArtifactName when it is pinned.
func parseTrivy(data []byte) (*Report, error) {
	var t trivyReport
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("trivy JSON: %w", err)
	}
	if t.SchemaVersion != 0 && t.SchemaVersion != 2 {
		return nil, fmt.Errorf("trivy JSON: SchemaVersion %d is not supported (want 2)", t.SchemaVersion)
	}
	r := &Report{
		Artifact:  Artifact{Name: t.ArtifactName, Digest: pickRepoDigest(t.ArtifactName, t.Metadata.RepoDigests)},
		CreatedAt: t.CreatedAt,
		Scanner:   strings.TrimSpace("trivy " + t.Trivy.Version),
		Format:    "trivy",
	}
	if err := finishArtifact(&r.Artifact); err != nil {
		return nil, fmt.Errorf("trivy JSON: %w", err)
	}
	for i, res := range t.Results {
		for j, v := range res.Vulnerabilities {
			if strings.TrimSpace(v.VulnerabilityID) == "" {
				return nil, fmt.Errorf("trivy JSON: %w", fieldError(fmt.Sprintf("Results[%d].Vulnerabilities[%d]", i, j), "no VulnerabilityID"))
			}
			score := cleanScore(trivyScore(v.CVSS))
			r.Findings = append(r.Findings, Finding{
				ID: v.VulnerabilityID, Package: v.PkgName, PURL: v.PkgIdentifier.PURL,
				InstalledVersion: v.InstalledVersion, FixedVersion: v.FixedVersion,
				Severity: NormaliseSeverity(v.Severity, score), CVSS: score,
			})
		}
	}
	return r, nil
}

// trivyScore prefers NVD's CVSS v3 score, then the highest v3 score of any other source, then
// v4.0, then v2.
func trivyScore(c map[string]trivyCVSSEntry) float64 {
	if s := c["nvd"].V3Score; s > 0 {
		return s
	}
	best := 0.0
	for _, pick := range []func(trivyCVSSEntry) float64{
		func(e trivyCVSSEntry) float64 { return e.V3Score },
		func(e trivyCVSSEntry) float64 { return e.V40Score },
		func(e trivyCVSSEntry) float64 { return e.V2Score },
	} {
		for _, e := range c {
			best = max(best, pick(e))
		}
		if best > 0 {
			return best
		}
	}
	return 0
}
