package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature/sigtest"
)

// runImage runs `outrider image …` in-process (see run) and returns exit code, stdout and stderr.
func runImage(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return run(t, stdin, args...)
}

// imageRegistry serves an in-process registry on 127.0.0.1 with one image at shop/api:v1.
func imageRegistry(t *testing.T) (tag string, digest name.Digest) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	tag = strings.TrimPrefix(srv.URL, "http://") + "/shop/api:v1"
	ref, _ := name.NewTag(tag)
	img, _ := random.Image(256, 1)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	h, _ := img.Digest()
	return tag, ref.Context().Digest(h.String())
}

func keyPair(t *testing.T, dir, prefix string) (key, pub string) {
	t.Helper()
	p := filepath.Join(dir, prefix)
	if code, _, errs := runImage(t, "", "image", "generate-key-pair", "--output-key-prefix", p); code != 0 {
		t.Fatalf("generate-key-pair: %d %s", code, errs)
	}
	return p + ".key", p + ".pub"
}

func TestImageGenerateKeyPair(t *testing.T) {
	dir := t.TempDir()
	key, pub := keyPair(t, dir, "outrider")
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", st, err)
	}
	data, _ := os.ReadFile(key)
	if !strings.Contains(string(data), "BEGIN PRIVATE KEY") {
		t.Errorf("not PKCS#8:\n%s", data)
	}
	if _, err := os.Stat(pub); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runImage(t, "", "image", "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "outrider"))
	if code != 2 || !strings.Contains(errs, "exists") {
		t.Fatalf("overwrite: code %d, %s", code, errs)
	}
	if after, _ := os.ReadFile(key); !bytes.Equal(after, data) {
		t.Fatal("the private key was overwritten")
	}
}

func TestImageSignVerifyAttest(t *testing.T) {
	dir := t.TempDir()
	tag, d := imageRegistry(t)
	key, pub := keyPair(t, dir, "ci")
	_, otherPub := keyPair(t, dir, "other")

	code, out, errs := runImage(t, "", "image", "sign", "--key", key, tag)
	if code != 0 || !strings.Contains(out, "Signed "+d.String()) {
		t.Fatalf("sign: %d %q %s", code, out, errs)
	}
	if code, out, errs = runImage(t, "", "image", "verify", "--key", pub, tag); code != 0 || !strings.HasPrefix(out, "Verified") {
		t.Fatalf("verify: %d %q %s", code, out, errs)
	}
	code, out, _ = runImage(t, "", "image", "verify", "--key", otherPub, tag)
	if code != 1 || !strings.Contains(out, "not signed by any trusted authority") {
		t.Fatalf("verify with another key: %d %q", code, out)
	}
	code, out, _ = runImage(t, "", "image", "verify", "--key", pub, "--key", otherPub, "--threshold", "2", "-o", "json", tag)
	var rep verifyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Verified || len(rep.Signers) != 1 || rep.Digest != d.String() {
		t.Fatalf("2-of-2 with one signer: code %d, %+v, %v", code, rep, err)
	}

	pred := filepath.Join(dir, "provenance.json")
	os.WriteFile(pred, []byte(`{"builder":{"id":"https://ci.example/builder"},"materials":[{"uri":"git+https://git.example/shop/api"}]}`), 0o600)
	if code, out, errs = runImage(t, "", "image", "attest", "--key", key, "--type", "slsaprovenance", "--predicate", pred, tag); code != 0 {
		t.Fatalf("attest: %d %q %s", code, out, errs)
	}
	if code, out, errs = runImage(t, `{"scanner":{}}`, "image", "attest", "--key", key, "--type", "vuln", "--predicate", "-", tag); code != 0 {
		t.Fatalf("attest from stdin: %d %q %s", code, out, errs)
	}
	code, out, _ = runImage(t, "", "image", "verify", "--key", pub, "--type", "slsaprovenance", "-o", "json", tag)
	rep = verifyReport{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || len(rep.Statements) != 1 || rep.PredicateType != signature.SLSAProvenanceV02 {
		t.Fatalf("verify attestation: code %d, %s", code, out)
	}
	if code, out, _ = runImage(t, "", "image", "verify", "--key", otherPub, "--type", "vuln", tag); code != 1 {
		t.Fatalf("verify attestation with another key: %d %s", code, out)
	}
}

func TestImageVerifyKeyless(t *testing.T) {
	dir := t.TempDir()
	_, d := imageRegistry(t)
	ca, err := sigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	l, err := sigtest.NewLog()
	if err != nil {
		t.Fatal(err)
	}
	const issuer, subject = "https://token.actions.githubusercontent.com", "https://github.com/shop/api/.github/workflows/release.yml@refs/heads/main"
	s, err := ca.Issue(subject, issuer, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := signature.Sign(context.Background(), d, sigtest.LoggedSigner{Signer: s, Log: l}); err != nil {
		t.Fatal(err)
	}
	roots, tlog := filepath.Join(dir, "roots.pem"), filepath.Join(dir, "rekor.pub")
	os.WriteFile(roots, ca.RootPEM, 0o600)
	os.WriteFile(tlog, l.PublicKeyPEM, 0o600)
	base := []string{"image", "verify", "--roots", roots, "--tlog-key", tlog, "--certificate-oidc-issuer", issuer}
	if code, out, errs := runImage(t, "", append(base, "--certificate-identity", subject, d.String())...); code != 0 {
		t.Fatalf("keyless: %d %q %s", code, out, errs)
	}
	if code, out, _ := runImage(t, "", append(base, "--certificate-identity-regexp", `https://github\.com/shop/.*`, d.String())...); code != 0 {
		t.Fatalf("keyless regexp: %d %q", code, out)
	}
	code, out, _ := runImage(t, "", append(base, "--certificate-identity", "someone@else.example", d.String())...)
	if code != 1 || !strings.Contains(out, "certificate subject") {
		t.Fatalf("wrong identity: %d %q", code, out)
	}
}

func TestImageUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tag, _ := imageRegistry(t)
	key, pub := keyPair(t, dir, "ci")
	for name, args := range map[string][]string{
		"no authority":           {"image", "verify", tag},
		"keyless without roots":  {"image", "verify", "--certificate-identity", "a@b", "--certificate-oidc-issuer", "https://i", tag},
		"keyless without issuer": {"image", "verify", "--certificate-identity", "a@b", "--roots", pub, tag},
		"bad output":             {"image", "verify", "--key", pub, "-o", "yaml", tag},
		"threshold too high":     {"image", "verify", "--key", pub, "--threshold", "2", tag},
		"private key as public":  {"image", "verify", "--key", key, tag},
		"sign without key":       {"image", "sign", tag},
		"attest without type":    {"image", "attest", "--key", key, "--predicate", pub, tag},
		"predicate not JSON":     {"image", "attest", "--key", key, "--type", "vuln", "--predicate", pub, tag},
		"bad reference":          {"image", "sign", "--key", key, "UPPER/Case:x"},
		"registry down":          {"image", "verify", "--key", pub, "--timeout", "5s", "127.0.0.1:1/shop/api:v1"},
		"missing image":          {"image", "sign", "--key", key, strings.Replace(tag, ":v1", ":nope", 1)},
	} {
		if code, _, errs := runImage(t, "", args...); code != 2 || errs == "" {
			t.Errorf("%s: code %d, stderr %q; want 2 and a message", name, code, errs)
		}
	}
}
