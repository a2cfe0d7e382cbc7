package authz

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/outrider-sec/outrider/internal/identity/ca"
)

func TestPeerFromCertificateReadsProvenance(t *testing.T) {
	authority, err := ca.New(ca.Config{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, prov := range [][]string{nil, {"release", "ci"}} {
		svid, err := authority.Issue(ca.IssueRequest{CSR: csr, Namespace: "jobs", ServiceAccount: "batch", Provenance: prov})
		if err != nil {
			t.Fatal(err)
		}
		id, _, err := x509svid.Verify(svid.Certificates, authority.Bundle())
		if err != nil {
			t.Fatal(err)
		}
		got, err := PeerFromCertificate(id, svid.Leaf())
		if err != nil {
			t.Fatal(err)
		}
		want := Peer{ID: id, Provenance: svid.Provenance}
		if diff := cmp.Diff(want.String(), got.String()); diff != "" || !cmp.Equal(want.Provenance, got.Provenance) {
			t.Errorf("PeerFromCertificate = %+v, want %+v", got, want)
		}
		allowed := (&Policy{Rules: []Rule{{Name: "signed", Provenance: []string{"ci"}}}}).Authorize(got, 80, nil).Allowed
		if allowed != (prov != nil) {
			t.Errorf("provenance %v: allowed = %v", prov, allowed)
		}
	}
}
