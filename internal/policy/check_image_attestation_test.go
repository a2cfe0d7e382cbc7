package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

func (k testKey) attest(t *testing.T, d name.Digest, predicateType, predicate string) {
	t.Helper()
	if err := signature.Attest(context.Background(), d, k.signer, signature.PredicateTypeURI(predicateType), []byte(predicate)); err != nil {
		t.Fatal(err)
	}
}

func slsaV1(builder, repo string) string {
	return `{"buildDefinition":{"buildType":"https://example.com/build/v1","externalParameters":{"source":"` + repo +
		`"},"resolvedDependencies":[{"uri":"` + repo + `","digest":{"gitCommit":"abc"}}]},"runDetails":{"builder":{"id":"` + builder + `"}}}`
}

func provenancePolicy(host string, k testKey) string {
	return fmt.Sprintf(`images:
  attestations:
  - images: ["%s/app"]
    predicateType: slsaprovenance1
    builderIDs: ["https://ci.acme.example/builder/*"]
    sourceRepositories: ["git+https://git.acme.example/acme/api"]
    authorities:
    - name: ci
      key:
        pem: |
%s
`, host, indentPEM(k.pub, 10))
}

func TestCheckImageAttestation(t *testing.T) {
	reg := newTestRegistry(t)
	ci, stranger := newTestKey(t), newTestKey(t)
	const builder, repo = "https://ci.acme.example/builder/v2", "git+https://git.acme.example/acme/api"

	good := reg.push("app", "good")
	ci.attest(t, good, "slsaprovenance1", slsaV1(builder, repo))
	otherBuilder := reg.push("app", "laptop")
	ci.attest(t, otherBuilder, "slsaprovenance1", slsaV1("https://laptop.example/me", repo))
	otherRepo := reg.push("app", "fork")
	ci.attest(t, otherRepo, "slsaprovenance1", slsaV1(builder, "git+https://git.evil.example/acme/api"))
	forged := reg.push("app", "forged")
	stranger.attest(t, forged, "slsaprovenance1", slsaV1(builder, repo))
	none := reg.push("app", "none")

	data := fakeImageData{trust: map[string]*ImageTrust{}}
	for _, d := range []name.Digest{good, otherBuilder, otherRepo, forged, none} {
		data.trust[d.String()] = reg.trust(d)
	}
	policy := provenancePolicy(reg.host, ci)
	cases := []struct {
		name  string
		image name.Digest
		want  string
	}{
		{"provenance from our builder and repository", good, ""},
		{"built elsewhere", otherBuilder, `was built by "https://laptop.example/me", not by an accepted builder`},
		{"built from another repository", otherRepo, "not from an accepted repository"},
		{"provenance signed by someone else", forged, "has no https://slsa.dev/provenance/v1 attestation signed by ci"},
		{"no provenance", none, "has no https://slsa.dev/provenance/v1 attestation signed by ci"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := vulnResults(evaluateWithData(t, policy, data, withImage(c.image.String())), "image.attestation")
			switch {
			case c.want == "" && len(fs) > 0:
				t.Fatalf("findings %v, want none", fs)
			case c.want != "" && (len(fs) != 1 || !strings.Contains(fs[0].Message, c.want)):
				t.Fatalf("findings %v, want one saying %q", fs, c.want)
			}
		})
	}
}

// vulnPredicate is a cosign vulnerability predicate holding a Trivy result with one finding.
func vulnPredicate(id, severity string, finished time.Time) string {
	return `{"scanner":{"uri":"pkg:github/aquasecurity/trivy@0.57.1","version":"0.57.1","result":` +
		`{"SchemaVersion":2,"ArtifactName":"app","Results":[{"Target":"app","Vulnerabilities":[{"VulnerabilityID":"` + id +
		`","PkgName":"openssl","InstalledVersion":"3.0.1","FixedVersion":"3.0.2","Severity":"` + severity + `"}]}]}},` +
		`"metadata":{"scanStartedOn":"` + finished.Format(time.RFC3339) + `","scanFinishedOn":"` + finished.Format(time.RFC3339) + `"}}`
}

// TestVulnerabilityGateReadsSignedAttestations: in the cluster, reports come from the registry
// as cosign vulnerability attestations; only those signed by a trusted authority count.
func TestVulnerabilityGateReadsSignedAttestations(t *testing.T) {
	reg := newTestRegistry(t)
	ci, stranger := newTestKey(t), newTestKey(t)
	critical := reg.push("app", "critical")
	ci.attest(t, critical, "vuln", vulnPredicate("CVE-2026-0001", "CRITICAL", testNow.Add(-time.Hour)))
	stale := reg.push("app", "stale")
	ci.attest(t, stale, "vuln", vulnPredicate("CVE-2026-0002", "LOW", testNow.Add(-30*24*time.Hour)))
	// A clean report signed by a stranger must not hide the signed critical one.
	stranger.attest(t, critical, "vuln", vulnPredicate("CVE-2026-0003", "LOW", testNow))
	unreported := reg.push("app", "unreported")

	data := fakeImageData{trust: map[string]*ImageTrust{}, require: true}
	for _, d := range []name.Digest{critical, stale, unreported} {
		data.trust[d.String()] = reg.trust(d)
	}
	policy := fmt.Sprintf(`images:
  vulnerabilities: {failOn: high, maxReportAge: 168h}
  signatures:
  - images: ["%s/app"]
    authorities:
    - name: ci
      key:
        pem: |
%s
`, reg.host, indentPEM(ci.pub, 10))
	cases := []struct {
		name, check, want string
		image             name.Digest
	}{
		{"critical finding in the signed report", "image.vulnerabilities", "CVE-2026-0001 (critical", critical},
		{"stale signed report", "image.reportAge", "older than maxReportAge", stale},
		{"no report at all", "image.reportAge", "has no vulnerability report", unreported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := vulnResults(evaluateWithData(t, policy, data, withImage(c.image.String())), c.check)
			if len(fs) != 1 || !strings.Contains(fs[0].Message, c.want) {
				t.Fatalf("%s findings %v, want one saying %q", c.check, fs, c.want)
			}
		})
	}
}
