package ca

import "testing"

// BenchmarkIssue measures one issuance for an ECDSA P-256 CSR: parse, verify the CSR
// signature, sign the leaf with the P-256 intermediate.
func BenchmarkIssue(b *testing.B) {
	c, _ := newTestCA(b, nil)
	r := req(csrDER(b, p256(b), nil))
	r.Provenance = []string{"https://ci.example.com/keys/release"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Issue(r); err != nil {
			b.Fatal(err)
		}
	}
}
