package signature_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	sigsig "github.com/sigstore/sigstore/pkg/signature"

	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

// Every key type and signature scheme cosign uses verifies.
func TestKeyAuthorityAlgorithms(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	signers := map[string]func() (sigsig.Signer, error){
		"ecdsa p384 sha256": func() (sigsig.Signer, error) { return sigsig.LoadECDSASignerVerifier(p384, crypto.SHA256) },
		"ecdsa p384 sha384": func() (sigsig.Signer, error) { return sigsig.LoadECDSASignerVerifier(p384, crypto.SHA384) },
		"ecdsa p521 sha512": func() (sigsig.Signer, error) { return sigsig.LoadECDSASignerVerifier(p521, crypto.SHA512) },
		"ed25519":           func() (sigsig.Signer, error) { return sigsig.LoadED25519SignerVerifier(edKey) },
		"ed25519ph":         func() (sigsig.Signer, error) { return sigsig.LoadED25519phSignerVerifier(edKey) },
		"rsa pkcs1v15":      func() (sigsig.Signer, error) { return sigsig.LoadRSAPKCS1v15SignerVerifier(rsaKey, crypto.SHA256) },
		"rsa pss":           func() (sigsig.Signer, error) { return sigsig.LoadRSAPSSSignerVerifier(rsaKey, crypto.SHA256, nil) },
	}
	host := newRegistry(t)
	for name, mk := range signers {
		t.Run(name, func(t *testing.T) {
			s, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			pub, _ := s.PublicKey()
			d := pushImage(t, host, "algs/"+strings.ReplaceAll(name, " ", "-"), "v1")
			sign(t, d, s)
			if r := verify(t, d, authorityFor(t, "k", pub)); len(r.Signers) != 1 {
				t.Fatalf("not verified: %v", r.Reasons)
			}
		})
	}
}

func TestNewKeyAuthorityErrors(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	privPEM, _ := cryptoutils.MarshalPrivateKeyToPEM(ecKey)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKIXPublicKey(small.Public())
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p224DER, _ := x509.MarshalPKIXPublicKey(p224.Public())
	pubPEM, _ := cryptoutils.MarshalPublicKeyToPEM(ecKey.Public())
	for name, tc := range map[string]struct {
		name string
		pem  []byte
		want string
	}{
		"no name":     {"", pubPEM, "a name is required"},
		"not PEM":     {"k", []byte("hello"), "no PEM block"},
		"private key": {"k", privPEM, "this is a private key"},
		"certificate": {"k", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), "unknown Public key PEM file type"},
		"garbage DER": {"k", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}), "asn1"},
		"small RSA":   {"k", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER}), "too small"},
		"P-224":       {"k", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p224DER}), "unsupported"},
	} {
		_, err := signature.NewKeyAuthority(tc.name, tc.pem)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

func TestNewKeylessAuthorityErrors(t *testing.T) {
	roots := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	for name, tc := range map[string]struct {
		k    signature.Keyless
		want string
	}{
		"no issuer":    {signature.Keyless{Subject: "a@b", RootsPEM: roots}, "issuer"},
		"no subject":   {signature.Keyless{Issuer: "https://i", RootsPEM: roots}, "subject"},
		"both subject": {signature.Keyless{Issuer: "https://i", Subject: "a", SubjectRegExp: "a", RootsPEM: roots}, "not both"},
		"bad regexp":   {signature.Keyless{Issuer: "https://i", SubjectRegExp: "(", RootsPEM: roots}, "regular expression"},
		"no roots":     {signature.Keyless{Issuer: "https://i", Subject: "a@b"}, "roots"},
		"bad roots":    {signature.Keyless{Issuer: "https://i", Subject: "a@b", RootsPEM: roots}, "roots"},
	} {
		_, err := signature.NewKeylessAuthority("k", tc.k)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

func TestLoadPrivateKey(t *testing.T) {
	password := []byte("correct horse")
	encPEM, pubPEM, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), cryptoutils.StaticPasswordFunc(password))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(encPEM), "ENCRYPTED SIGSTORE PRIVATE KEY") {
		t.Fatalf("not an encrypted sigstore key:\n%s", encPEM)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	genPriv, genPub, err := signature.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	cosignPEM := []byte(strings.ReplaceAll(string(encPEM), "SIGSTORE", "COSIGN"))
	for name, tc := range map[string]struct {
		key, password []byte
		want          string // error, or "" to load
	}{
		"encrypted":                 {key: encPEM, password: password},
		"encrypted, old PEM type":   {key: cosignPEM, password: password},
		"encrypted, wrong password": {key: encPEM, password: []byte("nope"), want: "COSIGN_PASSWORD"},
		"PKCS#1 RSA":                {key: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})},
		"SEC 1 EC":                  {key: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})},
		"generated PKCS#8":          {key: genPriv},
		"not PEM":                   {key: []byte("x"), want: "no PEM block"},
		"public key":                {key: genPub, want: "unknown private key PEM file type"},
		"PKCS#8 encrypted":          {key: pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), want: "not supported"},
	} {
		s, err := signature.LoadPrivateKey(tc.key, tc.password)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		case name == "encrypted":
			pub, _ := s.PublicKey()
			got, _ := cryptoutils.MarshalPublicKeyToPEM(pub)
			if string(got) != string(pubPEM) {
				t.Errorf("loaded key's public key differs from the pair's")
			}
		}
	}
}
