package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	sigsig "github.com/sigstore/sigstore/pkg/signature"
)

// LoadPrivateKey reads a PEM private key and returns a signer that signs as cosign does with
// it: ECDSA with SHA-256, Ed25519, RSA PKCS#1 v1.5 with SHA-256. It reads PKCS#8
// ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") and cosign's
// encrypted keys ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY", made by
// cosign generate-key-pair), which need password; the others ignore it.
func LoadPrivateKey(keyPEM, password []byte) (sigsig.SignerVerifier, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("private key: no PEM block found")
	}
	encrypted := strings.HasPrefix(block.Type, "ENCRYPTED ")
	if encrypted && block.Type != "ENCRYPTED SIGSTORE PRIVATE KEY" && block.Type != "ENCRYPTED COSIGN PRIVATE KEY" {
		return nil, fmt.Errorf("private key: PEM type %q is not supported (decrypt it, or use a cosign key)", block.Type)
	}
	pass := cryptoutils.SkipPassword
	if encrypted {
		if password == nil {
			password = []byte{} // cosign encrypts with the empty password too
		}
		pass = cryptoutils.StaticPasswordFunc(password)
	}
	key, err := cryptoutils.UnmarshalPEMToPrivateKey(keyPEM, pass)
	if err != nil {
		if encrypted {
			return nil, fmt.Errorf("private key: decrypting (is the password, COSIGN_PASSWORD, right?): %v", err)
		}
		return nil, fmt.Errorf("private key: %v", err)
	}
	return signerFor(key)
}

func signerFor(key crypto.PrivateKey) (sigsig.SignerVerifier, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return sigsig.LoadECDSASignerVerifier(k, crypto.SHA256)
	case ed25519.PrivateKey:
		return sigsig.LoadED25519SignerVerifier(k)
	case *rsa.PrivateKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("private key: RSA key of %d bits is too small (want at least %d)", k.N.BitLen(), minRSABits)
		}
		return sigsig.LoadRSAPKCS1v15SignerVerifier(k, crypto.SHA256)
	}
	return nil, fmt.Errorf("private key: unsupported key type %T (want ECDSA, Ed25519 or RSA)", key)
}

// GenerateKeyPair makes an ECDSA P-256 key pair, as cosign generate-key-pair does, and returns
// the private key as unencrypted PKCS#8 PEM and the public key as PEM.
func GenerateKeyPair() (privatePEM, publicPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if privatePEM, err = cryptoutils.MarshalPrivateKeyToPEM(key); err != nil {
		return nil, nil, err
	}
	if publicPEM, err = cryptoutils.MarshalPublicKeyToPEM(key.Public()); err != nil {
		return nil, nil, err
	}
	return privatePEM, publicPEM, nil
}
