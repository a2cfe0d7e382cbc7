package policy

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	sigsig "github.com/sigstore/sigstore/pkg/signature"
	corev1 "k8s.io/api/core/v1"

	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

// testRegistry is go-containerregistry's registry on loopback, for tests that sign and read
// real signatures.
type testRegistry struct {
	t    *testing.T
	host string
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return &testRegistry{t: t, host: strings.TrimPrefix(srv.URL, "http://")}
}

// push writes a random image at repo:tag and returns its digest reference.
func (r *testRegistry) push(repo, tag string) name.Digest {
	r.t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		r.t.Fatal(err)
	}
	ref, err := name.NewTag(r.host + "/" + repo + ":" + tag)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		r.t.Fatal(err)
	}
	h, err := img.Digest()
	if err != nil {
		r.t.Fatal(err)
	}
	return ref.Context().Digest(h.String())
}

// trust reads what the registry holds about d, as the front end would.
func (r *testRegistry) trust(d name.Digest) *ImageTrust {
	r.t.Helper()
	ev, err := signature.Fetch(context.Background(), d)
	if err != nil {
		r.t.Fatal(err)
	}
	return &ImageTrust{Digest: d.DigestStr(), Evidence: ev}
}

// testKey is a signing key and its public key PEM.
type testKey struct {
	signer sigsig.SignerVerifier
	pub    string
}

func newTestKey(t *testing.T) testKey {
	t.Helper()
	priv, pub, err := signature.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	s, err := signature.LoadPrivateKey(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{signer: s, pub: string(pub)}
}

func (k testKey) sign(t *testing.T, d name.Digest) {
	t.Helper()
	if err := signature.Sign(context.Background(), d, k.signer); err != nil {
		t.Fatal(err)
	}
}

// indentPEM indents a PEM block for a YAML block scalar at depth spaces.
func indentPEM(pem string, depth int) string {
	pad := strings.Repeat(" ", depth)
	return pad + strings.ReplaceAll(strings.TrimSpace(pem), "\n", "\n"+pad)
}

// withImage sets the compliant pod's container image.
func withImage(image string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Image = image }
}
