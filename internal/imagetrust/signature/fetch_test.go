package signature_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	sigsig "github.com/sigstore/sigstore/pkg/signature"

	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

// Registry errors other than "not found" are returned, naming what was being read.
func TestFetchReturnsRegistryErrors(t *testing.T) {
	reg := registry.New(registry.WithReferrersSupport(true))
	host := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".sig") && r.Method == http.MethodGet {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	d := pushImage(t, host, "shop/api", "v1")
	_, err := signature.Fetch(context.Background(), d, remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusInternalServerError || !strings.Contains(err.Error(), ".sig") {
		t.Fatalf("err = %v, want a wrapped 500 naming the .sig tag", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := signature.Fetch(ctx, pushImage(t, newRegistry(t), "a", "b")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: err = %v", err)
	}
}

// Garbage in a signature manifest is skipped, not fatal, and the good signature still counts.
func TestFetchSkipsMalformedLayers(t *testing.T) {
	host := newRegistry(t)
	d := pushImage(t, host, "shop/api", "v1")
	s, ci := newKey(t, "ci")
	sign(t, d, s)
	img, err := remote.Image(sigTag(d, "sig"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	rc, _ := layers[0].Compressed()
	valid, _ := io.ReadAll(rc)
	garbage := []mutate.Addendum{
		// a valid signature in a layer of another media type
		{Layer: static.NewLayer(valid, "text/plain"), Annotations: m.Layers[0].Annotations},
		{Layer: static.NewLayer([]byte("not json"), signature.SimpleSigningMediaType), Annotations: map[string]string{"dev.cosignproject.cosign/signature": "!!!"}},
		{Layer: static.NewLayer([]byte("{}"), signature.SimpleSigningMediaType)},
		{Layer: static.NewLayer(bytes.Repeat([]byte("x"), signature.MaxBlobBytes+1), signature.SimpleSigningMediaType),
			Annotations: map[string]string{"dev.cosignproject.cosign/signature": "AAAA"}},
		{Layer: static.NewLayer([]byte("{}"), signature.SimpleSigningMediaType), Annotations: map[string]string{
			"dev.cosignproject.cosign/signature": "AAAA", "dev.sigstore.cosign/certificate": "garbage", "dev.sigstore.cosign/bundle": "{"}},
	}
	for _, a := range garbage {
		if img, err = mutate.Append(img, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Write(sigTag(d, "sig"), img); err != nil {
		t.Fatal(err)
	}
	ev := fetch(t, d)
	if ev.SignatureCount() != 2 || len(ev.Skipped) != 4 {
		t.Fatalf("signatures = %d, skipped = %q; want 2 and 4", ev.SignatureCount(), ev.Skipped)
	}
	r := ev.VerifySignatures([]*signature.Authority{ci}, time.Now())
	if len(r.Signers) != 1 || len(r.Reasons) != 1 {
		t.Fatalf("got %+v, want ci and one reason", r)
	}
}

// cosign --registry-referrers-mode=oci-1-1 stores the signature manifest as a referrer.
func TestFetchSignatureReferrer(t *testing.T) {
	host := newRegistry(t)
	d := pushImage(t, host, "shop/api", "v1")
	s, ci := newKey(t, "ci")
	sign(t, d, s)
	img, err := remote.Image(sigTag(d, "sig"))
	if err != nil {
		t.Fatal(err)
	}
	pushReferrer(t, d, mutate.ConfigMediaType(img, signature.SignatureArtifactType))
	if err := remote.Delete(sigTag(d, "sig")); err != nil {
		t.Fatal(err)
	}
	if r := verify(t, d, ci); len(r.Signers) != 1 {
		t.Fatalf("referrer signature: %+v", r)
	}
}

// pushReferrer pushes img as a referrer of d (its subject).
func pushReferrer(t *testing.T, d name.Digest, img v1.Image) {
	t.Helper()
	desc, err := remote.Head(d)
	if err != nil {
		t.Fatal(err)
	}
	withSubject := mutate.Subject(img, *desc).(v1.Image)
	h, err := withSubject.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(d.Context().Digest(h.String()), withSubject); err != nil {
		t.Fatal(err)
	}
}

// bundle makes a Sigstore bundle v0.3 of a DSSE envelope over an in-toto statement about
// digest, as cosign --new-bundle-format writes.
func bundle(t *testing.T, s sigsig.Signer, digest, predicateType string) []byte {
	t.Helper()
	alg, hexDigest, _ := strings.Cut(digest, ":")
	st, _ := json.Marshal(map[string]any{
		"_type": "https://in-toto.io/Statement/v1", "predicateType": predicateType,
		"subject":   []map[string]any{{"digest": map[string]string{alg: hexDigest}}},
		"predicate": map[string]any{},
	})
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(signature.InTotoPayloadType), signature.InTotoPayloadType, len(st), st)
	sig, err := s.SignMessage(strings.NewReader(pae))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(st)
	b, _ := json.Marshal(map[string]any{
		"mediaType":            signature.BundleMediaType,
		"verificationMaterial": map[string]any{"publicKey": map[string]string{"hint": hex.EncodeToString(sum[:4])}},
		"dsseEnvelope": map[string]any{
			"payload": base64.StdEncoding.EncodeToString(st), "payloadType": signature.InTotoPayloadType,
			"signatures": []map[string]string{{"sig": base64.StdEncoding.EncodeToString(sig)}},
		},
	})
	return b
}

func pushBundle(t *testing.T, d name.Digest, b []byte) {
	t.Helper()
	img, err := mutate.Append(emptySigImage(), mutate.Addendum{Layer: static.NewLayer(b, types.MediaType(signature.BundleMediaType))})
	if err != nil {
		t.Fatal(err)
	}
	pushReferrer(t, d, mutate.ConfigMediaType(img, signature.BundleMediaType))
}

// cosign sign --new-bundle-format signs a statement with predicate cosign/sign/v1: a
// signature. cosign attest --new-bundle-format signs other predicates: attestations.
func TestFetchSigstoreBundles(t *testing.T) {
	host := newRegistry(t)
	d := pushImage(t, host, "shop/api", "v1")
	other := pushImage(t, host, "shop/api", "v2")
	s, ci := newKey(t, "ci")
	pushBundle(t, d, bundle(t, s, d.DigestStr(), signature.CosignSignPredicateType))
	pushBundle(t, d, bundle(t, s, d.DigestStr(), signature.SLSAProvenanceV1))
	pushBundle(t, d, bundle(t, s, other.DigestStr(), signature.CosignSignPredicateType)) // about another image

	ev := fetch(t, d)
	if ev.SignatureCount() != 2 || ev.AttestationCount() != 1 {
		t.Fatalf("signatures %d, attestations %d, skipped %v", ev.SignatureCount(), ev.AttestationCount(), ev.Skipped)
	}
	r := ev.VerifySignatures([]*signature.Authority{ci}, time.Now())
	if len(r.Signers) != 1 || !reasonsContain(r.Reasons, "copied from another image") {
		t.Fatalf("bundle signatures: %+v", r)
	}
	a := ev.VerifyAttestations(signature.SLSAProvenanceV1, []*signature.Authority{ci}, time.Now())
	if len(a.Statements) != 1 {
		t.Fatalf("bundle attestation: %+v", a)
	}
}
