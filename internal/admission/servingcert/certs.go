package servingcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// bundle is a CA and a leaf signed by it, PEM-encoded as stored in the Secret.
type bundle struct {
	caCert, caKey, cert, key []byte
}

// Secret keys, compatible with kubernetes.io/tls Secrets plus the CA.
const (
	keyCACert = "ca.crt"
	keyCAKey  = "ca.key"
	keyCert   = "tls.crt"
	keyKey    = "tls.key"
)

func (b *bundle) data() map[string][]byte {
	return map[string][]byte{keyCACert: b.caCert, keyCAKey: b.caKey, keyCert: b.cert, keyKey: b.key}
}

func bundleFrom(data map[string][]byte) *bundle {
	return &bundle{caCert: data[keyCACert], caKey: data[keyCAKey], cert: data[keyCert], key: data[keyKey]}
}

// newCA makes a self-signed CA. ECDSA P-256: small, fast to verify on every webhook call.
func newCA(name string, now time.Time, ttl time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"outrider"}},
		NotBefore:             now.Add(-time.Minute), // tolerate clock skew between replicas
		NotAfter:              now.Add(ttl),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return encode(der, key)
}

// newLeaf makes a serving certificate for dnsNames signed by the CA.
func newLeaf(caCertPEM, caKeyPEM []byte, dnsNames []string, now time.Time, ttl time.Duration) (certPEM, keyPEM []byte, err error) {
	ca, err := tls.X509KeyPair(caCertPEM, caKeyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: dnsNames[0]},
		DNSNames:     dnsNames,
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, ca.PrivateKey)
	if err != nil {
		return nil, nil, err
	}
	return encode(der, key)
}

func encode(der []byte, key *ecdsa.PrivateKey) ([]byte, []byte, error) {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n
}

// validity reports why b cannot serve dnsNames until now+renewBefore, or nil when it can.
func (b *bundle) validity(dnsNames []string, now time.Time, renewBefore time.Duration) error {
	pair, err := tls.X509KeyPair(b.cert, b.key)
	if err != nil {
		return fmt.Errorf("leaf: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("leaf: %w", err)
	}
	if _, err := tls.X509KeyPair(b.caCert, b.caKey); err != nil {
		return fmt.Errorf("CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b.caCert) {
		return errors.New("CA: no certificate")
	}
	at := now.Add(renewBefore)
	for _, n := range dnsNames {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: n, Roots: roots, CurrentTime: at}); err != nil {
			return fmt.Errorf("leaf for %s at %s: %w", n, at.Format(time.RFC3339), err)
		}
	}
	return nil
}

// caValid reports whether the CA itself is good until at.
func (b *bundle) caValid(at time.Time) bool {
	blk, _ := pem.Decode(b.caCert)
	if blk == nil {
		return false
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	return err == nil && at.Before(c.NotAfter)
}

func (b *bundle) equal(o *bundle) bool {
	return bytes.Equal(b.caCert, o.caCert) && bytes.Equal(b.cert, o.cert) && bytes.Equal(b.key, o.key)
}
