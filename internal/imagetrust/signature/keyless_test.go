package signature_test

import (
	"context"
	"strings"
	"testing"
	"time"

	sigsig "github.com/sigstore/sigstore/pkg/signature"

	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature/sigtest"
)

const (
	ciIssuer  = "https://token.actions.githubusercontent.com"
	ciSubject = "https://github.com/shop/api/.github/workflows/release.yml@refs/heads/main"
)

type keylessFixture struct {
	ca  *sigtest.CA
	log *sigtest.Log
}

func newKeylessFixture(t *testing.T) keylessFixture {
	t.Helper()
	ca, err := sigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	l, err := sigtest.NewLog()
	if err != nil {
		t.Fatal(err)
	}
	return keylessFixture{ca, l}
}

func (f keylessFixture) issue(t *testing.T, subject, issuer string, from, to time.Time) *sigtest.Signer {
	t.Helper()
	s, err := f.ca.Issue(subject, issuer, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func keylessAuthority(t *testing.T, k signature.Keyless) *signature.Authority {
	t.Helper()
	a, err := signature.NewKeylessAuthority("release", k)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestKeyless(t *testing.T) {
	f := newKeylessFixture(t)
	other := newKeylessFixture(t)
	now := time.Now()
	valid := func(t *testing.T) *sigtest.Signer {
		return f.issue(t, ciSubject, ciIssuer, now.Add(-time.Minute), now.Add(10*time.Minute))
	}
	exact := signature.Keyless{Issuer: ciIssuer, Subject: ciSubject, RootsPEM: f.ca.RootPEM}
	tests := []struct {
		name   string
		signer func(t *testing.T) sigsig.Signer
		auth   signature.Keyless
		at     time.Time // verification time; now when zero
		want   string    // a reason, or "" to be verified
	}{
		{name: "right issuer and subject", signer: func(t *testing.T) sigsig.Signer { return valid(t) }, auth: exact},
		{name: "subject regexp", signer: func(t *testing.T) sigsig.Signer { return valid(t) },
			auth: signature.Keyless{Issuer: ciIssuer, SubjectRegExp: `https://github\.com/shop/.*`, RootsPEM: f.ca.RootPEM}},
		{name: "email subject", signer: func(t *testing.T) sigsig.Signer {
			return f.issue(t, "release@shop.example", ciIssuer, now.Add(-time.Minute), now.Add(time.Hour))
		}, auth: signature.Keyless{Issuer: ciIssuer, Subject: "release@shop.example", RootsPEM: f.ca.RootPEM}},
		{name: "wrong issuer", signer: func(t *testing.T) sigsig.Signer {
			return f.issue(t, ciSubject, "https://accounts.example.com", now.Add(-time.Minute), now.Add(time.Hour))
		}, auth: exact, want: `certificate issuer "https://accounts.example.com" does not match`},
		{name: "wrong subject", signer: func(t *testing.T) sigsig.Signer {
			return f.issue(t, "https://github.com/evil/api/.github/workflows/x.yml@refs/heads/main", ciIssuer, now.Add(-time.Minute), now.Add(time.Hour))
		}, auth: exact, want: "certificate subject"},
		{name: "subject regexp is anchored", signer: func(t *testing.T) sigsig.Signer {
			return f.issue(t, "https://evil.example/https://github.com/shop/x", ciIssuer, now.Add(-time.Minute), now.Add(time.Hour))
		}, auth: signature.Keyless{Issuer: ciIssuer, SubjectRegExp: `https://github\.com/shop/.*`, RootsPEM: f.ca.RootPEM}, want: "does not match the regular expression"},
		{name: "issuer regexp is anchored", signer: func(t *testing.T) sigsig.Signer {
			return f.issue(t, ciSubject, ciIssuer+".evil.example", now.Add(-time.Minute), now.Add(time.Hour))
		}, auth: signature.Keyless{IssuerRegExp: `https://token\.actions\.githubusercontent\.com`, Subject: ciSubject, RootsPEM: f.ca.RootPEM}, want: "certificate issuer"},
		{name: "certificate from another CA", signer: func(t *testing.T) sigsig.Signer {
			return other.issue(t, ciSubject, ciIssuer, now.Add(-time.Minute), now.Add(time.Hour))
		}, auth: exact, want: "does not chain to the trusted roots"},
		{name: "expired certificate", signer: func(t *testing.T) sigsig.Signer { return valid(t) },
			auth: exact, at: now.Add(time.Hour), want: "certificate was valid from"},
		{name: "expired certificate, logged while valid", signer: func(t *testing.T) sigsig.Signer {
			return sigtest.LoggedSigner{Signer: valid(t), Log: f.log}
		}, auth: withLog(exact, f.log), at: now.Add(time.Hour)},
		{name: "logged after the certificate expired", signer: func(t *testing.T) sigsig.Signer {
			late := f.log.At(func() time.Time { return now.Add(time.Hour) })
			return sigtest.LoggedSigner{Signer: valid(t), Log: late}
		}, auth: withLog(exact, f.log), want: "not when it was logged"},
		{name: "log required, no entry", signer: func(t *testing.T) sigsig.Signer { return valid(t) },
			auth: withLog(exact, f.log), want: "no transparency log entry"},
		{name: "entry from an untrusted log", signer: func(t *testing.T) sigsig.Signer {
			return sigtest.LoggedSigner{Signer: valid(t), Log: other.log}
		}, auth: withLog(exact, f.log), want: "not the trusted log"},
		{name: "a key signature is not keyless", signer: func(t *testing.T) sigsig.Signer { s, _ := newKey(t, "k"); return s },
			auth: exact, want: "signed with a key, not a certificate"},
	}
	host := newRegistry(t)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := pushImage(t, host, "shop/keyless", strings.Repeat("x", i+1))
			if err := signature.Sign(context.Background(), d, tc.signer(t)); err != nil {
				t.Fatal(err)
			}
			at := tc.at
			if at.IsZero() {
				at = now
			}
			r := fetch(t, d).VerifySignatures([]*signature.Authority{keylessAuthority(t, tc.auth)}, at)
			switch {
			case tc.want == "" && len(r.Signers) != 1:
				t.Fatalf("not verified: %v", r.Reasons)
			case tc.want != "" && len(r.Signers) != 0:
				t.Fatalf("verified, want refused with %q", tc.want)
			case tc.want != "" && !reasonsContain(r.Reasons, tc.want):
				t.Fatalf("reasons = %v, want one with %q", r.Reasons, tc.want)
			}
		})
	}
}

func withLog(k signature.Keyless, l *sigtest.Log) signature.Keyless {
	k.TransparencyLogKeyPEM = l.PublicKeyPEM
	return k
}

// A log entry from the trusted log that records a different signature is refused.
func TestKeylessLogEntryMustNameTheSignature(t *testing.T) {
	f := newKeylessFixture(t)
	host := newRegistry(t)
	d := pushImage(t, host, "shop/api", "v1")
	now := time.Now()
	s := f.issue(t, ciSubject, ciIssuer, now.Add(-time.Minute), now.Add(time.Hour))
	// The log signs an entry for another image's signature; the bundle is then moved.
	other := pushImage(t, host, "shop/api", "v2")
	if err := signature.Sign(context.Background(), other, sigtest.LoggedSigner{Signer: s, Log: f.log}); err != nil {
		t.Fatal(err)
	}
	bundle := layerAnnotation(t, other, "sig", "dev.sigstore.cosign/bundle")
	if err := signature.Sign(context.Background(), d, s); err != nil {
		t.Fatal(err)
	}
	setLayerAnnotation(t, d, "sig", "dev.sigstore.cosign/bundle", bundle)

	auth := keylessAuthority(t, withLog(signature.Keyless{Issuer: ciIssuer, Subject: ciSubject, RootsPEM: f.ca.RootPEM}, f.log))
	r := fetch(t, d).VerifySignatures([]*signature.Authority{auth}, now)
	if len(r.Signers) != 0 || !reasonsContain(r.Reasons, "transparency log entry records") {
		t.Fatalf("got %+v", r)
	}
}

// Keyless attestations with a log entry (intoto 0.0.2 body) verify; copied to another image
// they do not.
func TestKeylessAttestationWithLog(t *testing.T) {
	f := newKeylessFixture(t)
	host := newRegistry(t)
	d := pushImage(t, host, "shop/api", "v1")
	now := time.Now()
	s := f.issue(t, ciSubject, ciIssuer, now.Add(-time.Minute), now.Add(time.Minute))
	if err := signature.Attest(context.Background(), d, sigtest.LoggedSigner{Signer: s, Log: f.log}, signature.SLSAProvenanceV02, []byte(provenanceV02)); err != nil {
		t.Fatal(err)
	}
	auth := keylessAuthority(t, withLog(signature.Keyless{Issuer: ciIssuer, Subject: ciSubject, RootsPEM: f.ca.RootPEM}, f.log))
	r := fetch(t, d).VerifyAttestations(signature.SLSAProvenanceV02, []*signature.Authority{auth}, now.Add(time.Hour))
	if len(r.Statements) != 1 {
		t.Fatalf("keyless attestation: %+v", r)
	}
}
