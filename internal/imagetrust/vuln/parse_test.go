package vuln

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const fixtures = "../../../test/fixtures/vuln/"

const apiDigest = "sha256:14c2529eb4498c5d1ffd6915d05bf58a91bdda796af59f41d480d11c099d0479"

// brief is a report in a line per finding, for readable diffs.
type brief struct {
	Artifact  Artifact
	CreatedAt string
	Scanner   string
	Format    string
	Findings  []string
}

func summarise(r *Report) brief {
	b := brief{Artifact: r.Artifact, Scanner: r.Scanner, Format: r.Format}
	if !r.CreatedAt.IsZero() {
		b.CreatedAt = r.CreatedAt.UTC().Format(time.RFC3339)
	}
	for _, f := range r.Findings {
		line := f.ID + " " + string(f.Severity) + " " + f.Package + " " + f.InstalledVersion + " -> " + f.FixedVersion
		if f.CVSS > 0 {
			line += " cvss=" + strconv.FormatFloat(f.CVSS, 'f', -1, 64)
		}
		if len(f.Aliases) > 0 {
			line += " aka " + strings.Join(f.Aliases, ",")
		}
		b.Findings = append(b.Findings, line)
	}
	return b
}

func TestParseFixtures(t *testing.T) {
	trivyFindings := []string{
		"CVE-2024-45490 critical libexpat1 2.5.0-1 -> 2.5.0-1+deb12u1 cvss=9.8",
		"CVE-2023-52425 high libexpat1 2.5.0-1 ->  cvss=7.5",
		"CVE-2024-2511 high libssl3 3.0.11-1~deb12u2 -> 3.0.13-1~deb12u1 cvss=7.5",
		"CVE-2023-50495 medium libncursesw6 6.4-4 ->  cvss=6.5",
		"CVE-2011-3374 low apt 2.6.1 ->  cvss=3.7",
		"TEMP-0841856-B18BAF info bash 5.2.15-2+b7 -> ",
		"CVE-2024-24790 critical stdlib v1.22.3 -> 1.21.11, 1.22.4 cvss=9.8",
	}
	api := Artifact{Name: "registry.example.com/shop/api:1.4.2", Digest: apiDigest}
	tests := []struct {
		file string
		want brief
	}{
		{"trivy-api.json", brief{Artifact: api, CreatedAt: "2026-11-20T08:15:42Z", Scanner: "trivy 0.57.1", Format: "trivy", Findings: trivyFindings}},
		{"cosign-vuln-attestation.json", brief{Artifact: api, CreatedAt: "2026-11-20T08:15:43Z", Scanner: "trivy 0.57.1", Format: "cosign-attestation", Findings: trivyFindings}},
		{"cosign-vuln-attestation.dsse.json", brief{Artifact: api, CreatedAt: "2026-11-20T08:15:43Z", Scanner: "trivy 0.57.1", Format: "cosign-attestation", Findings: trivyFindings}},
		{"grype-api.json", brief{Artifact: api, CreatedAt: "2026-11-20T08:21:05Z", Scanner: "grype 0.84.0", Format: "grype", Findings: []string{
			"GHSA-49gw-vxvf-fc2g high stdlib go1.22.3 -> 1.22.4 cvss=9.8 aka CVE-2024-24790",
			"CVE-2024-45490 critical libexpat1 2.5.0-1 -> 2.5.0-1+deb12u1 cvss=9.8",
			"CVE-2023-52425 high libexpat1 2.5.0-1 ->  cvss=7.5",
			"CVE-2011-3374 info apt 2.6.1 ->  cvss=3.7",
			"CVE-2025-31115 info liblzma5 5.4.1-0.2 -> 5.4.1-1",
		}}},
		{"trivy-api.sarif", brief{Artifact: api, CreatedAt: "2026-11-20T08:15:42Z", Scanner: "Trivy 0.57.1", Format: "sarif", Findings: []string{
			"CVE-2024-45490 critical libexpat1 2.5.0-1 -> 2.5.0-1+deb12u1 cvss=9.8",
			"CVE-2023-50495 medium libncursesw6 6.4-4 ->  cvss=6.5",
			"CVE-2024-2511 high libssl3 3.0.11-1~deb12u2 -> 3.0.13-1~deb12u1 cvss=7.5",
			"TEMP-0841856-B18BAF low bash 5.2.15-2+b7 -> ",
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(fixtures, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Parse(data, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, summarise(r)); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}
