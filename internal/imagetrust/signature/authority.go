package signature

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	sigsig "github.com/sigstore/sigstore/pkg/signature"
)

// minRSABits is the smallest RSA key accepted, for keys and certificates alike.
const minRSABits = 2048

// Authority is one trusted signer: a public key, or a keyless identity (a certificate
// authority, an OIDC issuer and subject, and optionally a transparency log). Its name is what
// results report and thresholds count.
type Authority struct {
	name      string
	verifiers []sigsig.Verifier // key authority: the key under every algorithm cosign signs with
	keyless   *keyless          // keyless authority
}

// Name is the authority's name, as results report it.
func (a *Authority) Name() string { return a.name }

// errNotSigned is the reason a signature does not verify with an authority's key.
var errNotSigned = errors.New("not signed by any trusted authority")

// NewKeyAuthority returns an authority that trusts signatures made with the private key of
// publicKeyPEM (a PEM "PUBLIC KEY": ECDSA P-256/384/521, Ed25519, or RSA of at least 2048
// bits). It accepts the algorithms cosign signs with: ECDSA with SHA-256 (or the curve's own
// hash), Ed25519 and Ed25519ph, RSA PKCS#1 v1.5 and PSS with SHA-256.
func NewKeyAuthority(name string, publicKeyPEM []byte) (*Authority, error) {
	if name == "" {
		return nil, errors.New("key authority: a name is required")
	}
	block, _ := pem.Decode(publicKeyPEM)
	if block == nil {
		return nil, fmt.Errorf("key authority %q: no PEM block found (want a PEM \"PUBLIC KEY\", as cosign.pub holds)", name)
	}
	if strings.Contains(block.Type, "PRIVATE") {
		return nil, fmt.Errorf("key authority %q: this is a private key (%s); give the public key", name, block.Type)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(publicKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("key authority %q: %v", name, err)
	}
	vs, err := verifiersFor(pub)
	if err != nil {
		return nil, fmt.Errorf("key authority %q: %v", name, err)
	}
	return &Authority{name: name, verifiers: vs}, nil
}

// verifiersFor loads pub under each signature algorithm cosign may have used with it.
func verifiersFor(pub crypto.PublicKey) ([]sigsig.Verifier, error) {
	var vs []sigsig.Verifier
	add := func(v sigsig.Verifier, err error) {
		if err == nil {
			vs = append(vs, v)
		}
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		hashes := []crypto.Hash{crypto.SHA256}
		switch k.Curve {
		case elliptic.P256():
		case elliptic.P384():
			hashes = append(hashes, crypto.SHA384)
		case elliptic.P521():
			hashes = append(hashes, crypto.SHA512)
		default:
			return nil, fmt.Errorf("unsupported ECDSA curve %s (want P-256, P-384 or P-521)", k.Curve.Params().Name)
		}
		for _, h := range hashes {
			add(sigsig.LoadECDSAVerifier(k, h))
		}
	case ed25519.PublicKey:
		add(sigsig.LoadED25519Verifier(k))
		add(sigsig.LoadED25519phVerifier(k))
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is too small (want at least %d)", k.N.BitLen(), minRSABits)
		}
		add(sigsig.LoadRSAPKCS1v15Verifier(k, crypto.SHA256))
		add(sigsig.LoadRSAPSSVerifier(k, crypto.SHA256, nil))
	default:
		return nil, fmt.Errorf("unsupported public key type %T (want ECDSA, Ed25519 or RSA)", pub)
	}
	if len(vs) == 0 {
		return nil, errors.New("the key cannot verify signatures")
	}
	return vs, nil
}

// verifyWith returns the index of the first of sigs that one of vs verifies over message.
func verifyWith(vs []sigsig.Verifier, sigs [][]byte, message []byte) (int, bool) {
	for i, sig := range sigs {
		for _, v := range vs {
			if v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(message)) == nil {
				return i, true
			}
		}
	}
	return 0, false
}

// verify checks that c was signed by this authority at a time it allows.
func (a *Authority) verify(c *candidate, now time.Time) error {
	if a.keyless != nil {
		return a.keyless.verify(c, now)
	}
	if _, ok := verifyWith(a.verifiers, c.sigs, c.message()); !ok {
		return errNotSigned
	}
	return nil
}
