package signature

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	sigsig "github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// The fuzz targets feed untrusted registry content (layers, annotations, envelopes,
// bundles, log entries, predicates) through parsing and verification, looking for panics.
// Their seeds are real signatures, so the verification paths past parsing are reached.

const fuzzDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

type fuzzFixture struct {
	signer   sigsig.SignerVerifier
	certPEM  []byte
	auths    []*Authority
	payload  []byte // simple-signing payload for fuzzDigest
	sig      string // base64 signature of payload
	envelope []byte // DSSE envelope of a statement about fuzzDigest
	bundle   []byte // a Rekor bundle annotation (hashedrekord)
}

func newFuzzFixture(f testing.TB) *fuzzFixture {
	f.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := sigsig.LoadECDSASignerVerifier(key, crypto.SHA256)
	pubPEM, _ := cryptoutils.MarshalPublicKeyToPEM(key.Public())
	keyAuth, err := NewKeyAuthority("key", pubPEM)
	if err != nil {
		f.Fatal(err)
	}
	// A self-signed CA that is also the leaf's issuer, with Fulcio's issuer extension.
	issuer, _ := asn1.MarshalWithParams("https://issuer.example", "utf8")
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, key.Public(), key)
	ca, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		EmailAddresses: []string{"ci@example.com"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{{Id: oidIssuerV2, Value: issuer}}}
	leafDER, _ := x509.CreateCertificate(rand.Reader, leafTmpl, ca, key.Public(), key)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	keyless, err := NewKeylessAuthority("keyless", Keyless{Issuer: "https://issuer.example", Subject: "ci@example.com", RootsPEM: caPEM, TransparencyLogKeyPEM: pubPEM})
	if err != nil {
		f.Fatal(err)
	}
	keylessNow, _ := NewKeylessAuthority("keyless-now", Keyless{IssuerRegExp: ".*", SubjectRegExp: ".*", RootsPEM: caPEM})

	d, _ := name.NewDigest("registry.example/shop/api@" + fuzzDigest)
	p, _ := payload.Cosign{Image: d}.MarshalJSON()
	sig, _ := signer.SignMessage(bytes.NewReader(p))
	st, _ := json.Marshal(map[string]any{"_type": statementV01, "predicateType": SLSAProvenanceV02,
		"subject": []subject{{Name: "x", Digest: map[string]string{"sha256": fuzzDigest[7:]}}}, "predicate": map[string]any{"builder": map[string]string{"id": "b"}}})
	esig, _ := signer.SignMessage(bytes.NewReader(pae(InTotoPayloadType, st)))
	env, _ := json.Marshal(map[string]any{"payloadType": InTotoPayloadType, "payload": base64.StdEncoding.EncodeToString(st),
		"signatures": []map[string]string{{"sig": base64.StdEncoding.EncodeToString(esig)}}})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	entry := &tlogEntry{bodyB64: base64.StdEncoding.EncodeToString(hashedRekord(p, sig, certPEM)), integratedTime: now.Unix(), logIndex: 7}
	tl, _ := newTransparencyLog(key.Public())
	entry.logID = tl.logID
	set, _ := signer.SignMessage(bytes.NewReader(entry.canonicalPayload()))
	bundle, _ := json.Marshal(RekorBundle{SignedEntryTimestamp: set, Payload: RekorBundlePayload{
		Body: entry.bodyB64, IntegratedTime: entry.integratedTime, LogIndex: entry.logIndex, LogID: entry.logID}})
	return &fuzzFixture{
		signer: signer, certPEM: certPEM, auths: []*Authority{keyAuth, keyless, keylessNow},
		payload: p, sig: base64.StdEncoding.EncodeToString(sig), envelope: env, bundle: bundle,
	}
}

func (fx *fuzzFixture) verifyAll(c *candidate) {
	d, _ := name.NewDigest("registry.example/shop/api@" + fuzzDigest)
	ev := &Evidence{Digest: d, signatures: []*candidate{c}, attestations: []*candidate{c}}
	now := time.Now()
	ev.VerifySignatures(fx.auths, now)
	for _, s := range ev.VerifyAttestations("", fx.auths, now).Statements {
		_, _ = ParseProvenance(s)
	}
}

func FuzzSignatureLayer(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.payload, fx.sig, "", "", "")
	f.Add(fx.payload, fx.sig, string(fx.certPEM), string(fx.certPEM), string(fx.bundle))
	f.Add(fx.payload, fx.sig, string(fx.certPEM), "", "")
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":1}}}`), "AAAA", "garbage", "", "{")
	f.Add([]byte("null"), "", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", "x", `{"Payload":{"body":"e30="}}`)
	f.Fuzz(func(t *testing.T, blob []byte, sig, cert, chain, bundle string) {
		ann := map[string]string{annotationSignature: sig}
		for k, v := range map[string]string{annotationCertificate: cert, annotationChain: chain, annotationBundle: bundle} {
			if v != "" {
				ann[k] = v
			}
		}
		c, err := parseSignatureLayer("fuzz", blob, ann)
		if err != nil {
			return
		}
		fx.verifyAll(c)
	})
}

func FuzzAttestationLayer(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.envelope, "", "")
	f.Add(fx.envelope, string(fx.certPEM), string(fx.bundle))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AA=="}]}`), "", "")
	f.Add([]byte(`{"payloadType":"x","payload":"!!","signatures":null}`), "x", "x")
	f.Fuzz(func(t *testing.T, blob []byte, cert, bundle string) {
		ann := map[string]string{annotationSignature: ""}
		if cert != "" {
			ann[annotationCertificate] = cert
		}
		if bundle != "" {
			ann[annotationBundle] = bundle
		}
		c, err := parseAttestationLayer("fuzz", blob, ann)
		if err != nil {
			return
		}
		fx.verifyAll(c)
	})
}

func FuzzBundle(f *testing.F) {
	fx := newFuzzFixture(f)
	var env map[string]any
	_ = json.Unmarshal(fx.envelope, &env)
	block, _ := pem.Decode(fx.certPEM)
	for _, vm := range []map[string]any{
		{"publicKey": map[string]string{"hint": "x"}},
		{"certificate": map[string]string{"rawBytes": base64.StdEncoding.EncodeToString(block.Bytes)},
			"tlogEntries": []map[string]any{{"logIndex": "7", "logId": map[string]string{"keyId": "AAAA"}, "integratedTime": "1700000000",
				"inclusionPromise": map[string]string{"signedEntryTimestamp": "AAAA"}, "canonicalizedBody": "e30="}}},
		{"x509CertificateChain": map[string]any{"certificates": []map[string]string{{"rawBytes": "AAAA"}}}, "tlogEntries": []map[string]any{{}}},
	} {
		b, _ := json.Marshal(map[string]any{"mediaType": BundleMediaType, "verificationMaterial": vm, "dsseEnvelope": env})
		f.Add(b)
	}
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","messageSignature":{}}`))
	f.Add([]byte(`{"mediaType":1}`))
	f.Fuzz(func(t *testing.T, blob []byte) {
		c, err := parseBundleLayer("fuzz", blob, nil)
		if err != nil {
			return
		}
		fx.verifyAll(c)
	})
}

func FuzzRekorBundle(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.bundle, []byte(fx.payload))
	f.Add([]byte(`{"SignedEntryTimestamp":"AAAA","Payload":{"body":"eyJraW5kIjoiaW50b3RvIiwiYXBpVmVyc2lvbiI6IjAuMC4yIn0=","logID":"00"}}`), []byte("{}"))
	f.Add([]byte(`{"Payload":{"body":7}}`), []byte(nil))
	key, _ := fx.signer.PublicKey()
	tl, _ := newTransparencyLog(key)
	block, _ := pem.Decode(fx.certPEM)
	f.Fuzz(func(t *testing.T, data, pl []byte) {
		e, err := parseRekorBundle(data)
		if err != nil {
			return
		}
		_ = tl.verifySET(e)
		for _, dsse := range []bool{false, true} {
			_ = checkTlogBody(e.body, &candidate{dsse: dsse, payload: pl}, []byte("sig"), block.Bytes)
		}
	})
}

func FuzzStatementAndProvenance(f *testing.F) {
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2","subject":[{"digest":{"sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}],"predicate":{"builder":{"id":"b"},"materials":[{"uri":"git+x"}]}}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1","subject":[{"digest":{"sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}],"predicate":{"buildDefinition":{"externalParameters":{"source":{"uri":"git+y"}}}}}`))
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1","subject":[{"digest":{"sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}],"predicate":{"buildDefinition":{"externalParameters":[]}}}`))
	f.Add([]byte(`{"subject":[{"digest":null}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		st, err := parseStatement(InTotoPayloadType, payload, fuzzDigest)
		if err != nil {
			return
		}
		_, _ = ParseProvenance(Statement{PredicateType: st.PredicateType, Predicate: st.Predicate})
		_, _ = ParseProvenance(Statement{PredicateType: SLSAProvenanceV1, Predicate: st.Predicate})
		_, _ = ParseProvenance(Statement{PredicateType: SLSAProvenanceV02, Predicate: st.Predicate})
	})
}

// The seeds are real: the valid ones verify, so the fuzzers reach verification's end.
func TestFuzzSeedsVerify(t *testing.T) {
	fx := newFuzzFixture(t)
	c, err := parseSignatureLayer("seed", fx.payload, map[string]string{
		annotationSignature: fx.sig, annotationCertificate: string(fx.certPEM), annotationBundle: string(fx.bundle)})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := name.NewDigest("registry.example/shop/api@" + fuzzDigest)
	ev := &Evidence{Digest: d, signatures: []*candidate{c}}
	r := ev.VerifySignatures(fx.auths, time.Now())
	if len(r.Signers) != 3 {
		t.Fatalf("seed signature: %+v", r)
	}
}
