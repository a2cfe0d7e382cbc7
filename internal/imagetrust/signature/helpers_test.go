package signature_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	sigsig "github.com/sigstore/sigstore/pkg/signature"

	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

// newRegistry serves go-containerregistry's in-process registry (with the referrers API)
// on 127.0.0.1 and returns its host:port.
func newRegistry(t testing.TB) string {
	t.Helper()
	return serve(t, registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
}

func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// pushImage pushes a random image to host/repo:tag and returns its digest reference.
func pushImage(t testing.TB, host, repo, tag string) name.Digest {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(d.String())
}

// newKey makes an ECDSA P-256 signer and a key authority named name for it.
func newKey(t testing.TB, name string) (sigsig.SignerVerifier, *signature.Authority) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := sigsig.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return sv, authorityFor(t, name, key.Public())
}

func authorityFor(t testing.TB, name string, pub crypto.PublicKey) *signature.Authority {
	t.Helper()
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	a, err := signature.NewKeyAuthority(name, pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func sign(t testing.TB, d name.Digest, s sigsig.Signer) {
	t.Helper()
	if err := signature.Sign(context.Background(), d, s); err != nil {
		t.Fatal(err)
	}
}

func fetch(t testing.TB, d name.Digest) *signature.Evidence {
	t.Helper()
	ev, err := signature.Fetch(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// verify fetches d's evidence and verifies its signatures against auths now.
func verify(t testing.TB, d name.Digest, auths ...*signature.Authority) signature.SignatureResult {
	t.Helper()
	return fetch(t, d).VerifySignatures(auths, time.Now())
}

func reasonsContain(r []string, want string) bool {
	for _, s := range r {
		if strings.Contains(s, want) {
			return true
		}
	}
	return false
}

// emptySigImage is the empty OCI manifest cosign's signature images start from.
func emptySigImage() v1.Image {
	return mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
}

// sigTag is cosign's tag for d's signatures ("sig") or attestations ("att").
func sigTag(d name.Digest, suffix string) name.Tag {
	return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + "." + suffix)
}

// layerAnnotation reads an annotation of the first layer at d's .sig or .att tag.
func layerAnnotation(t testing.TB, d name.Digest, suffix, key string) string {
	t.Helper()
	img, err := remote.Image(sigTag(d, suffix))
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.Layers[0].Annotations[key]
}

// setLayerAnnotation rewrites d's .sig or .att manifest with one annotation of every layer set.
func setLayerAnnotation(t testing.TB, d name.Digest, suffix, key, value string) {
	t.Helper()
	rewriteLayers(t, d, suffix, func(blob []byte, ann map[string]string) ([]byte, map[string]string) {
		ann[key] = value
		return blob, ann
	})
}

// rewriteLayers rewrites d's .sig or .att manifest, passing each layer through edit.
func rewriteLayers(t testing.TB, d name.Digest, suffix string, edit func(blob []byte, ann map[string]string) ([]byte, map[string]string)) {
	t.Helper()
	tag := sigTag(d, suffix)
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	out := emptySigImage()
	for _, l := range m.Layers {
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := layer.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		blob, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		ann := map[string]string{}
		for k, v := range l.Annotations {
			ann[k] = v
		}
		blob, ann = edit(blob, ann)
		out, err = mutate.Append(out, mutate.Addendum{Layer: static.NewLayer(blob, l.MediaType), Annotations: ann})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Write(tag, out); err != nil {
		t.Fatal(err)
	}
}
