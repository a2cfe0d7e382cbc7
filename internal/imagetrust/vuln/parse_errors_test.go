package vuln

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func statementJSON(predicateType, subjectHex, result string) string {
	return `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"` + predicateType + `",` +
		`"subject":[{"name":"registry.example.com/shop/api","digest":{"sha256":"` + subjectHex + `"}}],` +
		`"predicate":{"scanner":{"uri":"pkg:github/aquasecurity/trivy@0.57.1","version":"0.57.1","result":` + result + `},` +
		`"metadata":{"scanFinishedOn":"2026-11-20T08:15:43Z"}}}`
}

func TestParseErrors(t *testing.T) {
	hex := strings.TrimPrefix(apiDigest, "sha256:")
	otherHex := strings.Repeat("ab", 32)
	trivyMin := `{"SchemaVersion":2,"ArtifactName":"registry.example.com/shop/api:1.4.2","Results":[]}`
	trivyPinned := `{"SchemaVersion":2,"ArtifactName":"registry.example.com/shop/api@sha256:` + otherHex + `","Results":[]}`
	tests := []struct {
		name, data, want string
	}{
		{"empty", ``, "r.json: not a JSON object"},
		{"array", `[]`, "r.json: not a JSON object"},
		{"truncated", `{"SchemaVersion": 2, "Results": [`, "r.json: not a JSON object"},
		{"other JSON", `{"kind":"Deployment"}`, "r.json: not a vulnerability report: want Trivy JSON"},
		{"trivy finding without ID", `{"SchemaVersion":2,"ArtifactName":"a","Results":[{"Vulnerabilities":[{"PkgName":"x"}]}]}`,
			"r.json: trivy JSON: Results[0].Vulnerabilities[0]: no VulnerabilityID"},
		{"trivy schema 1", `{"SchemaVersion":1,"ArtifactName":"a"}`, "SchemaVersion 1 is not supported"},
		{"trivy without a name", `{"SchemaVersion":2,"Results":[]}`, "trivy JSON: the report names no image"},
		{"trivy wrong types", `{"SchemaVersion":"two","ArtifactName":"a"}`, "r.json: trivy JSON: json: cannot unmarshal"},
		{"grype match without ID", `{"matches":[{"vulnerability":{"severity":"High"}}],"source":{"target":{"userInput":"a"}}}`,
			"grype JSON: matches[0].vulnerability: no id"},
		{"sarif 2.0", `{"version":"2.0.0","runs":[]}`, `SARIF: version "2.0.0" is not supported`},
		{"sarif without an image", `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[]}]}`,
			"SARIF: the report names no image (no artifact name or digest) (set runs[].properties.imageName"},
		{"sarif result without rule", `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"properties":{"imageName":"a"},"results":[{"message":{"text":"x"}}]}]}`,
			"SARIF: runs[0].results[0]: no ruleId"},
		{"sarif two images", `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"properties":{"imageName":"a"},"results":[]},{"tool":{"driver":{"name":"x"}},"properties":{"imageName":"b"},"results":[]}]}`,
			"one report holds one image"},
		{"other predicate", statementJSON("https://slsa.dev/provenance/v1", hex, trivyMin), "is not a vulnerability attestation"},
		{"subject digest not hex", statementJSON(PredicateVuln, "xyz", trivyMin), "subject[0].digest.sha256"},
		{"result about another digest", statementJSON(PredicateVuln, hex, trivyPinned), "the scan result is about sha256:abab"},
		{"no result", statementJSON(PredicateVuln, hex, `null`), "predicate.scanner.result is empty"},
		{"nested attestation", statementJSON(PredicateVuln, hex, statementJSON(PredicateVuln, hex, trivyMin)),
			"an attestation cannot hold another attestation"},
		{"broken result", statementJSON(PredicateVuln, hex, `{"SchemaVersion":2,"Results":[]}`),
			"vulnerability attestation: predicate.scanner.result: trivy JSON: the report names no image"},
		{"envelope of another type", `{"payloadType":"text/plain","payload":"aGk="}`, `payload type "text/plain"`},
		{"envelope not base64", `{"payloadType":"application/vnd.in-toto+json","payload":"%%%"}`, "payload is not base64"},
		{"envelope of junk", `{"payloadType":"application/vnd.in-toto+json","payload":"` + base64.StdEncoding.EncodeToString([]byte("[1]")) + `"}`,
			"the payload is not an in-toto statement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse([]byte(tt.data), "r.json")
			if err == nil {
				t.Fatalf("no error; report %+v", r)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestParseBrokenFixtures(t *testing.T) {
	for _, file := range []string{"trivy-broken.json", "truncated.json"} {
		data, err := os.ReadFile(filepath.Join(fixtures, file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data, file); err == nil || !strings.HasPrefix(err.Error(), file+": ") {
			t.Errorf("%s: error %v does not name the file", file, err)
		}
	}
}

// FuzzParse looks only for panics and hangs; the fixtures are the seeds.
func FuzzParse(f *testing.F) {
	entries, err := os.ReadDir(fixtures)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if data, err := os.ReadFile(filepath.Join(fixtures, e.Name())); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(statementJSON(PredicateVuln, strings.Repeat("0", 64), `{"matches":[],"source":{"target":"dir:."}}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data, "fuzz")
		if err == nil && r == nil {
			t.Fatal("no report and no error")
		}
	})
}
