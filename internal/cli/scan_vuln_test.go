package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const vulnFixtures = fixtures + "vuln/"

// fixtureScannedAt rewrites a vulnerability fixture so its scan ran age ago (the fixtures say
// 2026-11-20; the default policy refuses reports older than 168h) and returns its new path.
func fixtureScannedAt(t *testing.T, name string, age time.Duration) string {
	t.Helper()
	data, err := os.ReadFile(vulnFixtures + name)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Add(-age).Format("2006-01-02T")
	data = []byte(strings.ReplaceAll(string(data), "2026-11-20T", day))
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writePolicy writes a ClusterSecurityPolicy with the given spec (YAML flow style).
func writePolicy(t *testing.T, spec string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	doc := "apiVersion: security.outrider.dev/v1alpha1\nkind: ClusterSecurityPolicy\nmetadata: {name: vuln}\nspec: " + spec + "\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type scanFinding struct {
	Check    string `json:"check"`
	Severity string `json:"severity"`
	Resource struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"resource"`
	Container string `json:"container"`
	Message   string `json:"message"`
}

func TestScanVulnerabilityGates(t *testing.T) {
	trivy := fixtureScannedAt(t, "trivy-api.json", 0)
	stale := fixtureScannedAt(t, "trivy-api.json", 30*24*time.Hour)
	manifest := vulnFixtures + "api-deployment.yaml"
	vex := vulnFixtures + "openvex-api.json"
	fixedOnes := `{id: CVE-2024-45490, reason: r}, {id: CVE-2024-2511, reason: r}, {id: CVE-2024-24790, reason: r}`
	tests := []struct {
		name      string
		args      []string
		code      int
		want      []string // "check kind/name container" of each finding
		inMessage string
	}{
		{"over the threshold", []string{trivy, manifest}, 1,
			[]string{"image.vulnerabilities Deployment/api api", "image.vulnerabilities Deployment/api migrate"}, "CVE-2024-24790 (critical"},
		{"VEX not_affected", []string{trivy, "--vex", vex, manifest}, 0, nil, ""},
		{"stale report", []string{stale, "--vex", vex, manifest}, 1,
			[]string{"image.reportAge Deployment/api api", "image.reportAge Deployment/api migrate"}, "older than maxReportAge 168h"},
		{"allow list with an expired entry", []string{trivy, "--policy", writePolicy(t, `{images: {vulnerabilities: {allow: [`+
			`{id: CVE-2024-45490, reason: r, expires: "2025-06-30"}, {id: CVE-2024-2511, reason: r}, {id: CVE-2024-24790, reason: r}, {id: CVE-2023-52425, reason: r}]}}}`), manifest}, 1,
			[]string{"image.vulnerabilities Deployment/api api", "image.vulnerabilities Deployment/api migrate"}, "allow entries expired: CVE-2024-45490 (expired 2025-06-30)"},
		{"allow list", []string{trivy, "--policy", writePolicy(t, `{images: {vulnerabilities: {allow: [`+fixedOnes+`, {id: CVE-2023-52425, reason: r}]}}}`), manifest}, 0, nil, ""},
		{"unfixed counts", []string{trivy, "--policy", writePolicy(t, `{images: {vulnerabilities: {allow: [`+fixedOnes+`]}}}`), manifest}, 1,
			[]string{"image.vulnerabilities Deployment/api api", "image.vulnerabilities Deployment/api migrate"}, "CVE-2023-52425 (high, libexpat1 2.5.0-1, no fix)"},
		{"ignoreUnfixed", []string{trivy, "--policy", writePolicy(t, `{images: {vulnerabilities: {ignoreUnfixed: true, allow: [`+fixedOnes+`]}}}`), manifest}, 0, nil, ""},
		{"report alone", []string{trivy}, 1, []string{"image.vulnerabilities Image/registry.example.com/shop/api:1.4.2 "}, "4 vulnerabilities at or above high"},
		{"report alone, with VEX", []string{trivy, "--vex", vex}, 0, nil, ""},
		{"attestation alone", []string{fixtureScannedAt(t, "cosign-vuln-attestation.dsse.json", 0)}, 1,
			[]string{"image.vulnerabilities Image/registry.example.com/shop/api:1.4.2 "}, ""},
		{"grype alone", []string{fixtureScannedAt(t, "grype-api.json", 0), "--vex", vex}, 0, nil, ""},
		{"sarif alone", []string{fixtureScannedAt(t, "trivy-api.sarif", 0), "--vex", vex}, 0, nil, ""},
		{"an image without a report", []string{fixtureScannedAt(t, "trivy-api-clean.json", 0), manifest}, 0, nil, ""},
		{"a report required", []string{trivy, "--vex", vex, "--require-vuln-report", manifest}, 1,
			[]string{"image.reportAge Deployment/api metrics"}, `"registry.example.com/shop/metrics-sidecar:0.9.1" has no vulnerability report`},
		{"below a critical threshold", []string{trivy, "--vex", vex, "--policy", writePolicy(t, `{images: {vulnerabilities: {failOn: critical}}}`), manifest}, 0, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"scan", "-o", "json", "--vuln-report"}, tt.args...)
			code, out, errOut := run(t, "", args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			var doc struct{ Findings []scanFinding }
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var got []string
			for _, f := range doc.Findings {
				got = append(got, f.Check+" "+f.Resource.Kind+"/"+f.Resource.Name+" "+f.Container)
				if tt.inMessage != "" && !strings.Contains(f.Message, tt.inMessage) {
					t.Errorf("message %q does not contain %q", f.Message, tt.inMessage)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestScanVulnerabilityInputErrors(t *testing.T) {
	noGate := writePolicy(t, `{mode: Enforce}`)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"broken report", []string{"--vuln-report", vulnFixtures + "trivy-broken.json"},
			"trivy-broken.json: vulnerability report: trivy JSON: Results[0].Vulnerabilities[0]: no VulnerabilityID"},
		{"truncated report", []string{"--vuln-report", vulnFixtures + "truncated.json", vulnFixtures + "api-deployment.yaml"}, "truncated.json: vulnerability report: not a JSON object"},
		{"missing report", []string{"--vuln-report", vulnFixtures + "nope.json"}, "nope.json"},
		{"a manifest as a report", []string{"--vuln-report", vulnFixtures + "api-deployment.yaml"}, "api-deployment.yaml: vulnerability report: not a JSON object"},
		{"a report as VEX", []string{"--vuln-report", vulnFixtures + "trivy-api.json", "--vex", vulnFixtures + "trivy-api.json"},
			"trivy-api.json: VEX document: not an OpenVEX document"},
		{"no policy judges reports", []string{"--policy", noGate, "--vuln-report", vulnFixtures + "trivy-api.json"}, "no policy in --policy has spec.images.vulnerabilities"},
		{"VEX without reports", []string{"--vex", vulnFixtures + "openvex-api.json", vulnFixtures + "api-deployment.yaml"}, "--vex and --require-vuln-report need --vuln-report"},
		{"bad gate in the policy", []string{"--policy", writePolicy(t, `{images: {vulnerabilities: {maxReportAge: soon}}}`), "--vuln-report", vulnFixtures + "trivy-api.json"},
			`spec.images.vulnerabilities.maxReportAge: Invalid value: "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, "", append([]string{"scan"}, tt.args...)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			if !strings.Contains(out+errOut, tt.want) {
				t.Errorf("output does not say %q\nstdout: %s\nstderr: %s", tt.want, out, errOut)
			}
		})
	}
}
