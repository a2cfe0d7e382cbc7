package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// FuzzIssueCSR feeds arbitrary bytes as a CSR. Issue must never panic and must never issue
// unless the input really is a self-signed CSR for an accepted key, whose key the leaf carries.
// The seeds (a valid CSR, tampered and wrapped variants) run with every `go test`.
func FuzzIssueCSR(f *testing.F) {
	c, _ := newTestCA(f, nil)
	good := csrDER(f, p256(f), nil)
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-3] ^= 0x40
	f.Add(good)
	f.Add(flipped)
	f.Add(csrDER(f, ed(f), nil))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: good}))
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{0x30, 0x82, 0xff, 0xff})

	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := c.Issue(req(in))
		if err != nil {
			if s != nil {
				t.Fatal("certificate returned with an error")
			}
			return
		}
		der := in
		if b, _ := pem.Decode(bytes.TrimSpace(in)); b != nil {
			der = b.Bytes
		}
		csr, perr := x509.ParseCertificateRequest(der)
		if perr != nil || csr.CheckSignature() != nil {
			t.Fatalf("issued for an input that is not a valid CSR: %x", in)
		}
		if !keyEqual(s.Leaf().PublicKey, csr.PublicKey) || len(s.Leaf().URIs) != 1 {
			t.Fatal("leaf does not carry exactly the CSR key and the SPIFFE ID")
		}
	})
}

func keyEqual(a, b any) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
