package signature_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

const provenanceV02 = `{
  "builder": {"id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0"},
  "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
  "invocation": {"configSource": {"uri": "git+https://github.com/shop/api@refs/heads/main", "digest": {"sha1": "abc"}}},
  "materials": [{"uri": "git+https://github.com/shop/api@refs/heads/main"}, {"uri": "pkg:docker/golang@1.26"}]
}`

const provenanceV1 = `{
  "buildDefinition": {
    "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
    "externalParameters": {"workflow": {"ref": "refs/heads/main", "repository": "https://github.com/shop/api", "path": ".github/workflows/release.yml"}},
    "resolvedDependencies": [{"uri": "git+https://github.com/shop/api@refs/heads/main", "digest": {"gitCommit": "abc"}}]
  },
  "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}}
}`

func TestAttestationsVerifyAndProvenanceReads(t *testing.T) {
	host := newRegistry(t)
	d := pushImage(t, host, "shop/api", "v1")
	s, ci := newKey(t, "ci")
	ctx := context.Background()
	for pt, pred := range map[string]string{
		signature.SLSAProvenanceV02: provenanceV02,
		signature.SLSAProvenanceV1:  provenanceV1,
		signature.VulnPredicateType: `{"scanner":{"uri":"pkg:github/aquasecurity/trivy@0.50.0","result":{}}}`,
	} {
		if err := signature.Attest(ctx, d, s, pt, []byte(pred)); err != nil {
			t.Fatal(err)
		}
	}
	ev := fetch(t, d)
	if ev.AttestationCount() != 3 {
		t.Fatalf("attestations = %d, want 3 (skipped: %v)", ev.AttestationCount(), ev.Skipped)
	}
	want := map[string]signature.Provenance{
		signature.SLSAProvenanceV02: {
			BuilderID:  "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0",
			SourceURIs: []string{"git+https://github.com/shop/api@refs/heads/main", "pkg:docker/golang@1.26"},
		},
		signature.SLSAProvenanceV1: {
			BuilderID:  "https://github.com/actions/runner/github-hosted",
			SourceURIs: []string{"https://github.com/shop/api", "git+https://github.com/shop/api@refs/heads/main"},
		},
	}
	for pt, wantProv := range want {
		r := ev.VerifyAttestations(signature.PredicateTypeURI(pt), []*signature.Authority{ci}, time.Now())
		if len(r.Statements) != 1 {
			t.Fatalf("%s: statements = %v, reasons %v", pt, r.Statements, r.Reasons)
		}
		if diff := cmp.Diff([]string{"ci"}, r.Signers()); diff != "" {
			t.Errorf("%s signers (-want +got):\n%s", pt, diff)
		}
		prov, err := signature.ParseProvenance(r.Statements[0])
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantProv, *prov); diff != "" {
			t.Errorf("%s provenance (-want +got):\n%s", pt, diff)
		}
	}
	vuln := ev.VerifyAttestations(signature.PredicateTypeURI("vuln"), []*signature.Authority{ci}, time.Now())
	if len(vuln.Statements) != 1 || !json.Valid(vuln.Statements[0].Predicate) {
		t.Fatalf("vuln attestation: %+v", vuln)
	}
	if _, err := signature.ParseProvenance(vuln.Statements[0]); err == nil {
		t.Error("a vuln predicate read as provenance")
	}
	if r := ev.VerifyAttestations("https://example.com/none", []*signature.Authority{ci}, time.Now()); len(r.Statements) != 0 || !reasonsContain(r.Reasons, "no attestations of type") {
		t.Errorf("absent type: %+v", r)
	}
	// Attestations are not signatures.
	if r := ev.VerifySignatures([]*signature.Authority{ci}, time.Now()); len(r.Signers) != 0 {
		t.Errorf("attestations counted as signatures: %v", r.Signers)
	}
}

func TestAttestationUnknownKeyAndCopiedSubject(t *testing.T) {
	host := newRegistry(t)
	a := pushImage(t, host, "shop/api", "v1")
	b := pushImage(t, host, "shop/api", "v2")
	s, ci := newKey(t, "ci")
	_, other := newKey(t, "other")
	if err := signature.Attest(context.Background(), a, s, signature.SLSAProvenanceV02, []byte(provenanceV02)); err != nil {
		t.Fatal(err)
	}
	r := fetch(t, a).VerifyAttestations(signature.SLSAProvenanceV02, []*signature.Authority{other}, time.Now())
	if len(r.Statements) != 0 || !reasonsContain(r.Reasons, "not signed by any trusted authority") {
		t.Fatalf("unknown key: %+v", r)
	}
	// The same envelope copied to b's .att tag names a's digest.
	env := layerAnnotation(t, a, "att", "predicateType")
	if env != signature.SLSAProvenanceV02 {
		t.Fatalf("predicateType annotation = %q", env)
	}
	attA, err := remote.Image(sigTag(a, "att"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(sigTag(b, "att"), attA); err != nil {
		t.Fatal(err)
	}
	r = fetch(t, b).VerifyAttestations(signature.SLSAProvenanceV02, []*signature.Authority{ci}, time.Now())
	if len(r.Statements) != 0 || !reasonsContain(r.Reasons, "copied from another image") {
		t.Fatalf("copied attestation: %+v", r)
	}
}

// A statement whose payload is changed under its DSSE signature is refused; so is one whose
// payload type is changed (the signature covers it through PAE).
func TestTamperedAttestationIsRefused(t *testing.T) {
	for name, edit := range map[string]func(env map[string]any){
		"payload": func(env map[string]any) {
			p, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
			env["payload"] = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(p), "shop/api@", "evil/api@", 1)))
		},
		"payloadType": func(env map[string]any) { env["payloadType"] = "application/json" },
	} {
		t.Run(name, func(t *testing.T) {
			host := newRegistry(t)
			d := pushImage(t, host, "shop/api", "v1")
			s, ci := newKey(t, "ci")
			if err := signature.Attest(context.Background(), d, s, signature.SLSAProvenanceV02, []byte(provenanceV02)); err != nil {
				t.Fatal(err)
			}
			rewriteLayers(t, d, "att", func(blob []byte, ann map[string]string) ([]byte, map[string]string) {
				var env map[string]any
				if err := json.Unmarshal(blob, &env); err != nil {
					t.Fatal(err)
				}
				edit(env)
				out, _ := json.Marshal(env)
				return out, ann
			})
			r := fetch(t, d).VerifyAttestations("", []*signature.Authority{ci}, time.Now())
			if len(r.Statements) != 0 || !reasonsContain(r.Reasons, "not signed by any trusted authority") {
				t.Fatalf("tampered %s: %+v", name, r)
			}
		})
	}
}

func TestPredicateTypeURI(t *testing.T) {
	for in, want := range map[string]string{
		"slsaprovenance":                "https://slsa.dev/provenance/v0.2",
		"slsaprovenance1":               "https://slsa.dev/provenance/v1",
		"vuln":                          "https://cosign.sigstore.dev/attestation/vuln/v1",
		"https://example.com/predicate": "https://example.com/predicate",
	} {
		if got := signature.PredicateTypeURI(in); got != want {
			t.Errorf("PredicateTypeURI(%q) = %q, want %q", in, got, want)
		}
	}
}
