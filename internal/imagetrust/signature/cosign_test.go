package signature_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

// The interoperability tests run the real cosign CLI (built by `make bin/tools/cosign` from
// the pinned version in hack/tools/cosign) against an in-process registry on 127.0.0.1.
// A missing binary fails them: a pipeline that signs with cosign must work unchanged.

const cosignPassword = "interop-password"

// cosignCLI finds bin/tools/cosign at the repository root.
func cosignCLI(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("..", "..", "..", "bin", "tools", "cosign"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("cosign is needed for the interoperability tests and is missing (%v): run `make bin/tools/cosign`", err)
	}
	return bin
}

// cosign runs the cosign CLI in dir with a private HOME, no network beyond loopback,
// and COSIGN_PASSWORD set; it returns combined output and the error.
func cosign(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cosignCLI(t), args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"HOME=" + dir,
		"PATH=" + os.Getenv("PATH"),
		"COSIGN_PASSWORD=" + cosignPassword,
		"COSIGN_EXPERIMENTAL=1",
		"COSIGN_YES=true",
		"TUF_ROOT=" + filepath.Join(dir, ".sigstore"),
		// cosign fetches Sigstore's TUF root from the internet on verify. The network rule
		// allows loopback only: send every non-loopback request to a closed loopback port, so
		// it fails at once and never leaves the machine (Go never proxies loopback, so the
		// test registry is still reached directly).
		"HTTPS_PROXY=http://127.0.0.1:9",
		"HTTP_PROXY=http://127.0.0.1:9",
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func mustCosign(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := cosign(t, dir, args...)
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// cosignKeys runs cosign generate-key-pair in dir and returns our authority for cosign.pub.
func cosignKeys(t *testing.T, dir string) *signature.Authority {
	t.Helper()
	mustCosign(t, dir, "generate-key-pair")
	pub, err := os.ReadFile(filepath.Join(dir, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := signature.NewKeyAuthority("cosign", pub)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// (a) cosign sign, in its default (tag) format and in OCI 1.1 referrers mode and the Sigstore
// bundle format → our verification accepts cosign.pub and refuses another key.
func TestCosignSignVerifiesHere(t *testing.T) {
	dir := t.TempDir()
	host := newRegistry(t)
	auth := cosignKeys(t, dir)
	_, other := newKey(t, "other")
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"tag scheme", nil},
		{"oci-1-1 referrers", []string{"--registry-referrers-mode=oci-1-1"}},
		{"sigstore bundle", []string{"--new-bundle-format"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			d := pushImage(t, host, "shop/"+strings.ReplaceAll(mode.name, " ", "-"), "v1")
			args := append([]string{"sign", "--key", "cosign.key", "--tlog-upload=false", "--allow-http-registry"}, mode.args...)
			mustCosign(t, dir, append(args, d.String())...)
			ev := fetch(t, d)
			r := ev.VerifySignatures([]*signature.Authority{auth}, time.Now())
			if diff := cmp.Diff([]string{"cosign"}, r.Signers); diff != "" {
				t.Fatalf("signers (-want +got):\n%s\nreasons %v, skipped %v", diff, r.Reasons, ev.Skipped)
			}
			r = ev.VerifySignatures([]*signature.Authority{other}, time.Now())
			if len(r.Signers) != 0 || !reasonsContain(r.Reasons, "not signed by any trusted authority") {
				t.Fatalf("another key: %+v", r)
			}
		})
	}
}

// (b) our Sign, with cosign's encrypted key and with a key of our own → cosign verify accepts.
func TestSignVerifiesWithCosign(t *testing.T) {
	dir := t.TempDir()
	host := newRegistry(t)
	cosignKeys(t, dir)
	keyPEM, err := os.ReadFile(filepath.Join(dir, "cosign.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := signature.LoadPrivateKey(keyPEM, []byte(cosignPassword))
	if err != nil {
		t.Fatal(err)
	}
	d := pushImage(t, host, "shop/api", "v1")
	sign(t, d, s)
	mustCosign(t, dir, "verify", "--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-http-registry", d.String())

	priv, pub, err := signature.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "outrider.pub"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	ours, err := signature.LoadPrivateKey(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	d2 := pushImage(t, host, "shop/api", "v2")
	sign(t, d2, ours)
	mustCosign(t, dir, "verify", "--key", "outrider.pub", "--insecure-ignore-tlog", "--allow-http-registry", d2.String())
	if out, err := cosign(t, dir, "verify", "--key", "outrider.pub", "--insecure-ignore-tlog", "--allow-http-registry", d.String()); err == nil {
		t.Fatalf("cosign verified a signature by another key:\n%s", out)
	}
	// Our Attest → cosign verify-attestation.
	if err := signature.Attest(context.Background(), d2, ours, signature.SLSAProvenanceV02, []byte(provenanceV02)); err != nil {
		t.Fatal(err)
	}
	mustCosign(t, dir, "verify-attestation", "--type", "slsaprovenance", "--key", "outrider.pub", "--insecure-ignore-tlog", "--allow-http-registry", d2.String())
}

// (c, d) cosign attest with SLSA provenance and a vulnerability report → our verification,
// in the tag scheme and the Sigstore bundle format.
func TestCosignAttestVerifiesHere(t *testing.T) {
	dir := t.TempDir()
	host := newRegistry(t)
	auth := cosignKeys(t, dir)
	for file, body := range map[string]string{"provenance.json": provenanceV02, "vuln.json": `{"scanner":{"uri":"pkg:github/aquasecurity/trivy@0.50.0","version":"0.50.0","result":{}},"metadata":{"scanStartedOn":"2026-01-01T00:00:00Z","scanFinishedOn":"2026-01-01T00:00:01Z"}}`} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"tag scheme", nil},
		{"sigstore bundle", []string{"--new-bundle-format"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			d := pushImage(t, host, "shop/"+strings.ReplaceAll(mode.name, " ", "-"), "v1")
			for typ, file := range map[string]string{"slsaprovenance": "provenance.json", "vuln": "vuln.json"} {
				args := append([]string{"attest", "--key", "cosign.key", "--tlog-upload=false", "--allow-http-registry", "--type", typ, "--predicate", file}, mode.args...)
				mustCosign(t, dir, append(args, d.String())...)
			}
			ev := fetch(t, d)
			prov := ev.VerifyAttestations(signature.PredicateTypeURI("slsaprovenance"), []*signature.Authority{auth}, time.Now())
			if len(prov.Statements) != 1 {
				t.Fatalf("provenance: %+v (skipped %v)", prov, ev.Skipped)
			}
			p, err := signature.ParseProvenance(prov.Statements[0])
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(p.BuilderID, "slsa-github-generator") || len(p.SourceURIs) != 2 {
				t.Errorf("provenance = %+v", p)
			}
			vuln := ev.VerifyAttestations(signature.PredicateTypeURI("vuln"), []*signature.Authority{auth}, time.Now())
			if len(vuln.Statements) != 1 || !strings.Contains(string(vuln.Statements[0].Predicate), "trivy") {
				t.Fatalf("vuln: %+v", vuln)
			}
		})
	}
}

// Keyless formats, without Fulcio: cosign signs with a key and a certificate from our test
// CA (--certificate, --certificate-chain) → our keyless authority verifies; our keyless Sign
// → cosign verify with --certificate-identity and --certificate-oidc-issuer accepts.
func TestCosignKeylessFormats(t *testing.T) {
	dir := t.TempDir()
	host := newRegistry(t)
	f := newKeylessFixture(t)
	now := time.Now()
	s := f.issue(t, ciSubject, ciIssuer, now.Add(-time.Minute), now.Add(time.Hour))
	keyPEM, err := s.PrivateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	cert, inter := s.CertificatePEM()
	for file, data := range map[string][]byte{"key.pem": keyPEM, "cert.pem": cert, "chain.pem": append(append([]byte(nil), inter...), f.ca.RootPEM...)} {
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustCosign(t, dir, "import-key-pair", "--key", "key.pem", "--output-key-prefix", "ci")
	auth := keylessAuthority(t, signature.Keyless{Issuer: ciIssuer, Subject: ciSubject, RootsPEM: f.ca.RootPEM})

	d := pushImage(t, host, "shop/api", "v1")
	mustCosign(t, dir, "sign", "--key", "ci.key", "--certificate", "cert.pem", "--certificate-chain", "chain.pem",
		"--tlog-upload=false", "--allow-http-registry", d.String())
	if r := verify(t, d, auth); len(r.Signers) != 1 {
		t.Fatalf("cosign's certificate signature: %v", r.Reasons)
	}
	wrong := keylessAuthority(t, signature.Keyless{Issuer: ciIssuer, Subject: "someone@else.example", RootsPEM: f.ca.RootPEM})
	if r := verify(t, d, wrong); len(r.Signers) != 0 {
		t.Fatal("verified for the wrong subject")
	}

	d2 := pushImage(t, host, "shop/api", "v2")
	if err := signature.Sign(context.Background(), d2, s); err != nil {
		t.Fatal(err)
	}
	args := []string{"--certificate-oidc-issuer", ciIssuer, "--certificate-chain", "chain.pem",
		"--insecure-ignore-tlog", "--insecure-ignore-sct", "--allow-http-registry", d2.String()}
	mustCosign(t, dir, append([]string{"verify", "--certificate-identity", ciSubject}, args...)...)
	if out, err := cosign(t, dir, append([]string{"verify", "--certificate-identity", "someone@else.example"}, args...)...); err == nil {
		t.Fatalf("cosign verified our signature for the wrong identity:\n%s", out)
	}
}
