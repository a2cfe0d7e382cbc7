package vuln

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// grypeReport is the part of Grype's JSON output that gates use.
type grypeReport struct {
	Matches []struct {
		Vulnerability          grypeVuln   `json:"vulnerability"`
		RelatedVulnerabilities []grypeVuln `json:"relatedVulnerabilities"`
		Artifact               struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			PURL    string `json:"purl"`
		} `json:"artifact"`
	} `json:"matches"`
	Source struct {
		Type   string          `json:"type"`
		Target json.RawMessage `json:"target"`
	} `json:"source"`
	Descriptor struct {
		Name      string    `json:"name"`
		Version   string    `json:"version"`
		Timestamp time.Time `json:"timestamp"`
	} `json:"descriptor"`
}

type grypeVuln struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Fix      struct {
		Versions []string `json:"versions"`
		State    string   `json:"state"`
	} `json:"fix"`
	CVSS []struct {
		Version string `json:"version"`
		Metrics struct {
			BaseScore float64 `json:"baseScore"`
		} `json:"metrics"`
	} `json:"cvss"`
}

// grypeImage is source.target for an image scan; other scans have a string there.
type grypeImage struct {
	UserInput      string   `json:"userInput"`
	ManifestDigest string   `json:"manifestDigest"`
	RepoDigests    []string `json:"repoDigests"`
}

// parseGrype reads `grype -o json`. The digest comes from source.target.repoDigests (the entry
// of userInput's repository first), then manifestDigest.
func parseGrype(data []byte) (*Report, error) {
	var g grypeReport
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("grype JSON: %w", err)
	}
	var target grypeImage
	if len(g.Source.Target) > 0 && g.Source.Target[0] == '{' {
		if err := json.Unmarshal(g.Source.Target, &target); err != nil {
			return nil, fmt.Errorf("grype JSON: source.target: %w", err)
		}
	} else if len(g.Source.Target) > 0 {
		_ = json.Unmarshal(g.Source.Target, &target.UserInput) // a directory or file scan
	}
	digest := pickRepoDigest(target.UserInput, target.RepoDigests)
	if digest == "" && validDigest(target.ManifestDigest) {
		digest = target.ManifestDigest
	}
	r := &Report{
		Artifact:  Artifact{Name: target.UserInput, Digest: digest},
		CreatedAt: g.Descriptor.Timestamp,
		Scanner:   strings.TrimSpace(g.Descriptor.Name + " " + g.Descriptor.Version),
		Format:    "grype",
	}
	if err := finishArtifact(&r.Artifact); err != nil {
		return nil, fmt.Errorf("grype JSON: %w", err)
	}
	for i, m := range g.Matches {
		v := m.Vulnerability
		if strings.TrimSpace(v.ID) == "" {
			return nil, fmt.Errorf("grype JSON: %w", fieldError(fmt.Sprintf("matches[%d].vulnerability", i), "no id"))
		}
		score := grypeScore(v)
		var aliases []string
		for _, rv := range m.RelatedVulnerabilities {
			if rv.ID != "" && rv.ID != v.ID {
				aliases = append(aliases, rv.ID)
			}
			if score == 0 {
				score = grypeScore(rv)
			}
		}
		fixed := ""
		if v.Fix.State == "fixed" {
			fixed = strings.Join(v.Fix.Versions, ", ")
		}
		r.Findings = append(r.Findings, Finding{
			ID: v.ID, Aliases: aliases, Package: m.Artifact.Name, PURL: m.Artifact.PURL,
			InstalledVersion: m.Artifact.Version, FixedVersion: fixed,
			Severity: NormaliseSeverity(v.Severity, score), CVSS: score,
		})
	}
	return r, nil
}

// grypeScore is the highest CVSS v3 (or later) base score of a vulnerability, else the highest
// of any version.
func grypeScore(v grypeVuln) float64 {
	v3, anyVersion := 0.0, 0.0
	for _, c := range v.CVSS {
		s := cleanScore(c.Metrics.BaseScore)
		anyVersion = max(anyVersion, s)
		if !strings.HasPrefix(c.Version, "2") {
			v3 = max(v3, s)
		}
	}
	if v3 > 0 {
		return v3
	}
	return anyVersion
}

// cleanScore keeps a CVSS score inside 0–10; anything else is unknown (0).
func cleanScore(s float64) float64 {
	if s < 0 || s > 10 || s != s {
		return 0
	}
	return s
}
