package vuln

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openvex/go-vex/pkg/vex"
)

func loadReport(t *testing.T, file string) *Report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, file))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse(data, file)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func loadVEX(t *testing.T, file string) *vex.VEX {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, file))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ParseVEX(data, file)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func TestApplyVEX(t *testing.T) {
	const docID = "https://vex.example.com/shop/api/2026-11-21.1"
	tests := []struct {
		name           string
		report         string
		vex            []string
		wantRemaining  []string
		wantSuppressed []string
	}{
		{"no documents", "trivy-api.json", nil,
			[]string{"CVE-2024-45490", "CVE-2023-52425", "CVE-2024-2511", "CVE-2023-50495", "CVE-2011-3374", "TEMP-0841856-B18BAF", "CVE-2024-24790"}, nil},
		{"every product form and the latest statement", "trivy-api.json", []string{"openvex-api.json"},
			[]string{"CVE-2023-50495", "CVE-2011-3374", "TEMP-0841856-B18BAF"},
			[]string{
				"CVE-2024-45490 not_affected vulnerable_code_not_in_execute_path " + docID,
				"CVE-2023-52425 not_affected inline_mitigations_already_exist " + docID,
				"CVE-2024-2511 fixed  " + docID,
				"CVE-2024-24790 not_affected vulnerable_code_cannot_be_controlled_by_adversary " + docID,
			}},
		{"aliases against a GHSA finding", "grype-api.json", []string{"openvex-api.json"},
			[]string{"CVE-2011-3374", "CVE-2025-31115"},
			[]string{
				"GHSA-49gw-vxvf-fc2g not_affected vulnerable_code_cannot_be_controlled_by_adversary " + docID,
				"CVE-2024-45490 not_affected vulnerable_code_not_in_execute_path " + docID,
				"CVE-2023-52425 not_affected inline_mitigations_already_exist " + docID,
			}},
		{"SARIF findings by package name", "trivy-api.sarif", []string{"openvex-api.json"},
			[]string{"CVE-2023-50495", "TEMP-0841856-B18BAF"},
			[]string{
				"CVE-2024-45490 not_affected vulnerable_code_not_in_execute_path " + docID,
				"CVE-2024-2511 fixed  " + docID,
			}},
		{"lookalike products never match", "trivy-api.json", []string{"openvex-lookalike.json"},
			[]string{"CVE-2024-45490", "CVE-2023-52425", "CVE-2024-2511", "CVE-2023-50495", "CVE-2011-3374", "TEMP-0841856-B18BAF", "CVE-2024-24790"}, nil},
		{"a statement for another image's tag", "trivy-api-clean.json", []string{"openvex-api.json"}, []string{"CVE-2011-3374"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var docs []*vex.VEX
			for _, f := range tt.vex {
				docs = append(docs, loadVEX(t, f))
			}
			remaining, suppressed := ApplyVEX(loadReport(t, tt.report), docs)
			var got []string
			for _, s := range suppressed {
				got = append(got, strings.Join([]string{s.Finding.ID, s.Status, s.Justification, s.Document}, " "))
			}
			if diff := cmp.Diff(tt.wantRemaining, ids(remaining)); diff != "" {
				t.Errorf("remaining -want +got:\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSuppressed, got); diff != "" {
				t.Errorf("suppressed -want +got:\n%s", diff)
			}
		})
	}
}

func TestIdentifierIsImage(t *testing.T) {
	const other = "sha256:d399067903e5fe9b002728c17a49bb31c57d01405748ecbbd4b7d3564f6e3d8c"
	hex := strings.TrimPrefix(apiDigest, "sha256:")
	key := newArtifactKey(Artifact{Name: "registry.example.com/shop/api:1.4.2", Digest: apiDigest})
	tests := []struct {
		id   string
		want bool
	}{
		{"pkg:oci/api@sha256%3A" + hex + "?repository_url=registry.example.com/shop/api", true},
		{"pkg:oci/api@sha256:" + hex, true},
		{"pkg:oci/api?repository_url=registry.example.com/shop/api", true},
		{"pkg:oci/api?repository_url=registry.example.com/shop/api&tag=1.4.2", true},
		{"pkg:oci/api?repository_url=registry.example.com/shop/api&tag=1.4.3", false},
		{"pkg:oci/api@sha256%3A" + strings.TrimPrefix(other, "sha256:") + "?repository_url=registry.example.com/shop/api", false},
		{"pkg:oci/api@sha256%3A" + hex + "?repository_url=registry.example.com.evil.io/shop/api", false},
		{"pkg:oci/api?repository_url=registry.example.com.evil.io/shop/api", false},
		{"pkg:oci/api?repository_url=registry.example.com/shop/api/extra", false},
		{"pkg:oci/api", false},
		{"pkg:oci/api-evil@sha256%3A" + hex, false},
		{"pkg:docker/shop/api@1.4.2?repository_url=registry.example.com", false},
		{"pkg:oci/%zz", false},
		{apiDigest, true},
		{other, false},
		{"registry.example.com/shop/api", true},
		{"REGISTRY.example.com/shop/api:1.4.2", true},
		{"registry.example.com/shop/api:1.4.2@" + apiDigest, true},
		{"registry.example.com/shop/api@" + other, false},
		{"registry.example.com/shop/api:1.4.3", false},
		{"registry.example.com/shop/api-old", false},
		{"registry.example.com/shop", false},
		{"registry.example.com/shop/api/extra", false},
		{"registry.example.com.evil.io/shop/api", false},
		{"api", false},
		{"", false},
		{"not a ref!", false},
	}
	for _, tt := range tests {
		if got := identifierIsImage(tt.id, key); got != tt.want {
			t.Errorf("identifierIsImage(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestSubcomponentsNarrowAStatement(t *testing.T) {
	r := loadReport(t, "trivy-api.json")
	doc := &vex.VEX{Metadata: vex.Metadata{ID: "d"}, Statements: []vex.Statement{{
		Vulnerability: vex.Vulnerability{Name: "CVE-2024-45490"},
		Products: []vex.Product{{
			Component:     vex.Component{ID: "registry.example.com/shop/api"},
			Subcomponents: []vex.Subcomponent{{Component: vex.Component{ID: "pkg:deb/debian/openssl"}}},
		}},
		Status: vex.StatusNotAffected, Justification: vex.ComponentNotPresent,
	}}}
	_, suppressed := ApplyVEX(r, []*vex.VEX{doc})
	if len(suppressed) != 0 {
		t.Errorf("a statement about openssl removed %v", suppressed)
	}
	doc.Statements[0].Products[0].Subcomponents[0].ID = "libexpat1"
	if _, suppressed = ApplyVEX(r, []*vex.VEX{doc}); len(suppressed) != 1 {
		t.Errorf("a statement about libexpat1 removed %d findings, want 1", len(suppressed))
	}
}

func TestParseVEXErrors(t *testing.T) {
	const head = `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"x","author":"a","version":1,"statements":[`
	tests := []struct{ name, data, want string }{
		{"not JSON", `nope`, "v.json: not a JSON object"},
		{"not OpenVEX", `{"SchemaVersion":2}`, `v.json: not an OpenVEX document: @context is ""`},
		{"not_affected without why", head + `{"vulnerability":{"name":"CVE-1"},"products":[{"@id":"a"}],"status":"not_affected"}]}`,
			"v.json: OpenVEX: statements[0]: either justification or impact statement"},
		{"bad status", head + `{"vulnerability":{"name":"CVE-1"},"products":[{"@id":"a"}],"status":"fine"}]}`, `invalid status value "fine"`},
		{"no product", head + `{"vulnerability":{"name":"CVE-1"},"status":"fixed"}]}`, "statements[0]: names no product"},
		{"no vulnerability", head + `{"products":[{"@id":"a"}],"status":"fixed"}]}`, "statements[0]: names no vulnerability"},
		{"bad timestamp", head + `{"vulnerability":{"name":"CVE-1"},"products":[{"@id":"a"}],"status":"fixed","timestamp":"today"}]}`, "v.json: OpenVEX:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseVEX([]byte(tt.data), "v.json")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// FuzzVEX parses OpenVEX documents and applies them to a report, looking only for panics.
func FuzzVEX(f *testing.F) {
	for _, name := range []string{"openvex-api.json", "openvex-lookalike.json"} {
		if data, err := os.ReadFile(filepath.Join(fixtures, name)); err == nil {
			f.Add(data)
		}
	}
	data, err := os.ReadFile(filepath.Join(fixtures, "grype-api.json"))
	if err != nil {
		f.Fatal(err)
	}
	r, err := Parse(data, "grype-api.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseVEX(data, "fuzz")
		if err != nil {
			return
		}
		remaining, suppressed := ApplyVEX(r, []*vex.VEX{doc})
		if len(remaining)+len(suppressed) != len(r.Findings) {
			t.Fatalf("%d remaining + %d suppressed of %d findings", len(remaining), len(suppressed), len(r.Findings))
		}
	})
}
