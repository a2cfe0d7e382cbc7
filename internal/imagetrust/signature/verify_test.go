package signature_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"

	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

func TestSignedImageVerifies(t *testing.T) {
	host := newRegistry(t)
	d := pushImage(t, host, "shop/api", "v1")
	s, ci := newKey(t, "ci")
	sign(t, d, s)

	r := verify(t, d, ci)
	if diff := cmp.Diff([]string{"ci"}, r.Signers); diff != "" {
		t.Fatalf("signers (-want +got):\n%s\nreasons: %v", diff, r.Reasons)
	}
	if len(r.Reasons) != 0 {
		t.Errorf("reasons = %v, want none", r.Reasons)
	}
}

func TestUnsignedImageHasNoSigners(t *testing.T) {
	host := newRegistry(t)
	d := pushImage(t, host, "shop/api", "v1")
	_, ci := newKey(t, "ci")

	ev := fetch(t, d)
	if ev.SignatureCount() != 0 || ev.AttestationCount() != 0 {
		t.Fatalf("evidence of an unsigned image: %d signatures, %d attestations", ev.SignatureCount(), ev.AttestationCount())
	}
	r := ev.VerifySignatures([]*signature.Authority{ci}, time.Now())
	if len(r.Signers) != 0 || !reasonsContain(r.Reasons, "no signatures found") {
		t.Fatalf("got %+v, want no signers and 'no signatures found'", r)
	}
}

func TestUnknownKeyIsRefusedWithReason(t *testing.T) {
	host := newRegistry(t)
	d := pushImage(t, host, "shop/api", "v1")
	s, _ := newKey(t, "ci")
	sign(t, d, s)
	_, other := newKey(t, "other")

	r := verify(t, d, other)
	if len(r.Signers) != 0 {
		t.Fatalf("signers = %v, want none", r.Signers)
	}
	if !reasonsContain(r.Reasons, "signature 1") || !reasonsContain(r.Reasons, "not signed by any trusted authority") {
		t.Errorf("reasons = %v", r.Reasons)
	}
}

// A signature manifest copied onto another image's .sig tag verifies cryptographically but
// names the other digest, so it must not count.
func TestSignatureCopiedToAnotherDigestDoesNotCount(t *testing.T) {
	host := newRegistry(t)
	signed := pushImage(t, host, "shop/api", "v1")
	victim := pushImage(t, host, "shop/api", "v2")
	s, ci := newKey(t, "ci")
	sign(t, signed, s)

	sigs, err := remote.Image(signed.Context().Tag(strings.Replace(signed.DigestStr(), ":", "-", 1) + ".sig"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(victim.Context().Tag(strings.Replace(victim.DigestStr(), ":", "-", 1)+".sig"), sigs); err != nil {
		t.Fatal(err)
	}
	r := verify(t, victim, ci)
	if len(r.Signers) != 0 {
		t.Fatalf("a copied signature counted: %v", r.Signers)
	}
	if !reasonsContain(r.Reasons, "copied from another image") {
		t.Errorf("reasons = %v", r.Reasons)
	}
}

// Signing a tag signs the digest it named then; the tag moving to a new push is unsigned.
func TestRepushedTagIsUnsigned(t *testing.T) {
	host := newRegistry(t)
	first := pushImage(t, host, "shop/api", "latest")
	s, ci := newKey(t, "ci")
	sign(t, first, s)
	second := pushImage(t, host, "shop/api", "latest")

	desc, err := remote.Head(mustTag(t, host+"/shop/api:latest"))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != second.DigestStr() || first.DigestStr() == second.DigestStr() {
		t.Fatalf("the tag did not move: %s", desc.Digest)
	}
	if r := verify(t, second, ci); len(r.Signers) != 0 {
		t.Fatalf("the re-pushed image counts as signed: %v", r.Signers)
	}
	if r := verify(t, first, ci); len(r.Signers) != 1 {
		t.Fatalf("the first image lost its signature: %+v", r)
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// Thresholds count distinct authorities: two signatures with one key are one signer, and
// an authority listed twice counts once.
func TestThresholdCountsDistinctAuthorities(t *testing.T) {
	host := newRegistry(t)
	d := pushImage(t, host, "shop/api", "v1")
	sa, a := newKey(t, "a")
	sb, b := newKey(t, "b")
	_, c := newKey(t, "c")
	sign(t, d, sa)
	sign(t, d, sa) // a second signature by the same key

	auths := []*signature.Authority{a, b, c, a}
	if ev := fetch(t, d); ev.SignatureCount() != 2 {
		t.Fatalf("signature count = %d, want 2", ev.SignatureCount())
	}
	if r := verify(t, d, auths...); len(r.Signers) != 1 {
		t.Fatalf("signers = %v, want [a] (1 of a 2-of-3 threshold)", r.Signers)
	}
	sign(t, d, sb)
	r := verify(t, d, auths...)
	if diff := cmp.Diff([]string{"a", "b"}, r.Signers); diff != "" {
		t.Fatalf("signers (-want +got):\n%s", diff)
	}
}

// A payload changed after signing, under the original signature, is refused.
func TestTamperedPayloadIsRefused(t *testing.T) {
	host := newRegistry(t)
	d := pushImage(t, host, "shop/api", "v1")
	s, ci := newKey(t, "ci")
	sign(t, d, s)

	tag := d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + ".sig")
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	layers, _ := img.Layers()
	payload, _ := layers[0].Compressed()
	var buf strings.Builder
	if _, err := io.Copy(&buf, payload); err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(buf.String(), `"optional":null`, `"optional":{"tampered":"yes"}`, 1)
	if tampered == buf.String() {
		t.Fatalf("payload has no optional field to tamper with: %s", buf.String())
	}
	out, err := mutate.Append(emptySigImage(), mutate.Addendum{
		Layer:       static.NewLayer([]byte(tampered), signature.SimpleSigningMediaType),
		Annotations: m.Layers[0].Annotations,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, out); err != nil {
		t.Fatal(err)
	}
	r := verify(t, d, ci)
	if len(r.Signers) != 0 || !reasonsContain(r.Reasons, "not signed by any trusted authority") {
		t.Fatalf("tampered payload: %+v", r)
	}
}

// Verification reads the evidence only, so one Evidence serves concurrent callers (run
// with -race).
func TestVerifyConcurrently(t *testing.T) {
	host := newRegistry(t)
	d := pushImage(t, host, "shop/api", "v1")
	s, ci := newKey(t, "ci")
	sign(t, d, s)
	if err := signature.Attest(context.Background(), d, s, signature.VulnPredicateType, []byte(`{"scanner":{"uri":"x"}}`)); err != nil {
		t.Fatal(err)
	}
	ev := fetch(t, d)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := ev.VerifySignatures([]*signature.Authority{ci}, time.Now()); len(r.Signers) != 1 {
				t.Errorf("signers = %v", r.Signers)
			}
			if r := ev.VerifyAttestations(signature.VulnPredicateType, []*signature.Authority{ci}, time.Now()); len(r.Statements) != 1 {
				t.Errorf("statements = %v, reasons %v", r.Statements, r.Reasons)
			}
		}()
	}
	wg.Wait()
}
