// Package sigtest makes keyless signing material for tests: a certificate authority that
// issues Fulcio-like code-signing certificates, and a transparency log that signs Rekor-style
// bundles. Signers it returns work with signature.Sign and signature.Attest.
package sigtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"time"

	sigsig "github.com/sigstore/sigstore/pkg/signature"

	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

// CA is a test certificate authority: a root and an intermediate, as Fulcio has.
type CA struct {
	// RootPEM is the root certificate, for signature.Keyless.RootsPEM.
	RootPEM []byte

	interCert *x509.Certificate
	interKey  *ecdsa.PrivateKey
	interPEM  []byte
}

// NewCA makes a root (valid for a day either side of now) and an intermediate under it.
func NewCA() (*CA, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sigtest root"},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	root, _ := x509.ParseCertificate(rootDER)
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	itmpl := *tmpl
	itmpl.SerialNumber = big.NewInt(2)
	itmpl.Subject = pkix.Name{CommonName: "sigtest intermediate"}
	itmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	interDER, err := x509.CreateCertificate(rand.Reader, &itmpl, root, interKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	inter, _ := x509.ParseCertificate(interDER)
	return &CA{RootPEM: pemCert(rootDER), interCert: inter, interKey: interKey, interPEM: pemCert(interDER)}, nil
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// Signer is a keyless signer: a fresh key with a certificate naming an identity.
type Signer struct {
	sigsig.SignerVerifier
	cert, chain []byte
	key         *ecdsa.PrivateKey
}

// PrivateKeyPEM returns the signer's key (PKCS#8 PEM), to hand to other tools.
func (s *Signer) PrivateKeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// CertificatePEM returns the signing certificate and the intermediate (signature.CertificateProvider).
func (s *Signer) CertificatePEM() (cert, chain []byte) { return s.cert, s.chain }

// Issue makes a key and a code-signing certificate for subject (an email address, or a URI
// when it has "://") from the OIDC issuer, valid from notBefore to notAfter.
func (ca *CA) Issue(subject, issuer string, notBefore, notAfter time.Time) (*Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	issuerExt, err := asn1.MarshalWithParams(issuer, "utf8")
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, Value: issuerExt},
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}, Value: []byte(issuer)},
		},
	}
	if strings.Contains(subject, "://") {
		u, err := url.Parse(subject)
		if err != nil {
			return nil, err
		}
		tmpl.URIs = []*url.URL{u}
	} else {
		tmpl.EmailAddresses = []string{subject}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.interCert, key.Public(), ca.interKey)
	if err != nil {
		return nil, err
	}
	sv, err := sigsig.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return &Signer{SignerVerifier: sv, cert: pemCert(der), chain: ca.interPEM, key: key}, nil
}

// Log is a test transparency log: it signs a Rekor-style signed entry timestamp over each
// entry it is given, dated by its clock.
type Log struct {
	// PublicKeyPEM is the log's key, for signature.Keyless.TransparencyLogKeyPEM.
	PublicKeyPEM []byte
	// Now dates entries; time.Now when nil.
	Now func() time.Time

	key   *ecdsa.PrivateKey
	logID string
	mu    sync.Mutex
	index int64
}

// NewLog makes a log with a fresh ECDSA P-256 key.
func NewLog() (*Log, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	id := sha256.Sum256(der)
	return &Log{
		PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		key:          key, logID: hex.EncodeToString(id[:]),
	}, nil
}

// At returns the same log (same key) with a different clock, to log entries at other times.
func (l *Log) At(now func() time.Time) *Log {
	return &Log{PublicKeyPEM: l.PublicKeyPEM, Now: now, key: l.key, logID: l.logID}
}

// LogEntry records body and returns its bundle, as Rekor's API does.
func (l *Log) LogEntry(_ context.Context, body []byte) (*signature.RekorBundle, error) {
	l.mu.Lock()
	idx := l.index
	l.index++
	l.mu.Unlock()
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	p := signature.RekorBundlePayload{
		Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: now().Unix(), LogIndex: idx, LogID: l.logID,
	}
	// The canonical JSON of the payload: keys sorted, no HTML escaping.
	canonical := struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogID          string `json:"logID"`
		LogIndex       int64  `json:"logIndex"`
	}{p.Body, p.IntegratedTime, p.LogID, p.LogIndex}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(canonical); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	set, err := ecdsa.SignASN1(rand.Reader, l.key, sum[:])
	if err != nil {
		return nil, err
	}
	return &signature.RekorBundle{SignedEntryTimestamp: set, Payload: p}, nil
}

// LoggedSigner is a Signer whose signatures the log records (signature.TransparencyLogger).
type LoggedSigner struct {
	*Signer
	*Log
}
