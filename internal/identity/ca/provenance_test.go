package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestProvenanceRoundTrip(t *testing.T) {
	c, _ := newTestCA(t, nil)
	r := req(csrDER(t, p256(t), nil))
	r.Provenance = []string{"https://ci.example.com/keys/release", "cosign-key:acme-prod", "https://ci.example.com/keys/release", "Zürich-CI"}
	s := mustIssue(t, c, r)
	want := []string{"Zürich-CI", "cosign-key:acme-prod", "https://ci.example.com/keys/release"}
	if diff := cmp.Diff(want, s.Provenance); diff != "" {
		t.Errorf("SVID.Provenance (-want +got):\n%s", diff)
	}
	got, err := ProvenanceOf(s.Leaf())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ProvenanceOf (-want +got):\n%s", diff)
	}
	ext := findExt(s.Leaf(), OIDProvenance)
	if ext == nil || ext.Critical {
		t.Fatalf("provenance extension %+v, want present and non-critical", ext)
	}
	// The verifier must still accept the leaf: the extension is non-critical.
	if _, err := verifyAt(s, c.Bundle(), t0); err != nil {
		t.Errorf("verify: %v", err)
	}
}

// TestProvenanceNotForgeableThroughCSR: a workload that puts the provenance extension in its
// CSR gets none, or gets exactly what the caller said.
func TestProvenanceNotForgeableThroughCSR(t *testing.T) {
	c, _ := newTestCA(t, nil)
	forged, err := provenanceExtension([]string{"https://ci.example.com/keys/release"})
	if err != nil {
		t.Fatal(err)
	}
	csr := csrDER(t, p256(t), func(r *x509.CertificateRequest) { r.ExtraExtensions = []pkix.Extension{forged} })

	s := mustIssue(t, c, req(csr))
	if p, err := ProvenanceOf(s.Leaf()); p != nil || err != nil || s.Provenance != nil {
		t.Errorf("CSR-requested provenance granted: %v, %v, %v", p, err, s.Provenance)
	}

	r := req(csr)
	r.Provenance = []string{"other-authority"}
	s = mustIssue(t, c, r)
	got, _ := ProvenanceOf(s.Leaf())
	if diff := cmp.Diff([]string{"other-authority"}, got); diff != "" {
		t.Errorf("provenance (-want +got):\n%s", diff)
	}
	n := 0
	for _, e := range s.Leaf().Extensions {
		if e.Id.Equal(OIDProvenance) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d provenance extensions, want 1", n)
	}
}

func TestProvenanceRequestValidation(t *testing.T) {
	many := make([]string, maxProvenanceEntries+1)
	for i := range many {
		many[i] = strings.Repeat("a", i+1)
	}
	for _, p := range [][]string{{""}, {" lead"}, {"trail "}, {"new\nline"}, {"nul\x00"}, {"\xff\xfe"}, {strings.Repeat("a", maxAuthorityNameLen+1)}, many} {
		if _, err := normalizeProvenance(p); !errors.Is(err, ErrInvalidProvenance) {
			t.Errorf("normalizeProvenance(%q) = %v, want ErrInvalidProvenance", p, err)
		}
	}
}

func TestProvenanceOfMalformed(t *testing.T) {
	utf8s := func(ss ...string) []byte {
		ext, _ := provenanceExtension(ss)
		return ext.Value
	}
	printable, _ := asn1.Marshal([]string{"abc"}) // PrintableString, not UTF8String
	tests := []struct {
		name string
		der  []byte
	}{
		{"empty", nil},
		{"empty sequence", []byte{0x30, 0x00}},
		{"trailing", append(utf8s("a"), 0)},
		{"printable string", printable},
		{"not a sequence", []byte{0x0c, 0x01, 'a'}},
		{"control char", utf8s("a\x01")},
		{"truncated", utf8s("abcdef")[:4]},
	}
	for _, tt := range tests {
		cert := &x509.Certificate{Extensions: []pkix.Extension{{Id: OIDProvenance, Value: tt.der}}}
		if p, err := ProvenanceOf(cert); !errors.Is(err, ErrInvalidProvenance) {
			t.Errorf("%s: ProvenanceOf = %v, %v; want ErrInvalidProvenance", tt.name, p, err)
		}
	}
	twice := &x509.Certificate{Extensions: []pkix.Extension{{Id: OIDProvenance, Value: utf8s("a")}, {Id: OIDProvenance, Value: utf8s("b")}}}
	if _, err := ProvenanceOf(twice); !errors.Is(err, ErrInvalidProvenance) {
		t.Errorf("duplicate extension: %v", err)
	}
	if _, err := ProvenanceOf(nil); !errors.Is(err, ErrInvalidProvenance) {
		t.Errorf("nil cert: %v", err)
	}
}

func FuzzProvenanceOf(f *testing.F) {
	ext, _ := provenanceExtension([]string{"a", "b"})
	f.Add(ext.Value)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		names, err := decodeProvenance(der)
		if err != nil {
			return
		}
		for _, n := range names {
			if checkAuthorityName(n) != nil {
				t.Fatalf("accepted invalid name %q", n)
			}
		}
	})
}

func findExt(c *x509.Certificate, oid asn1.ObjectIdentifier) *pkix.Extension {
	for i := range c.Extensions {
		if c.Extensions[i].Id.Equal(oid) {
			return &c.Extensions[i]
		}
	}
	return nil
}
