package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
)

// Key sizes for RSA authorities. 2048 is the floor the CA/Browser Forum and NIST still accept;
// 8192 bounds the verification cost an operator-supplied root can impose on every handshake.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// checkLeafKey accepts the keys a proxy should generate: ECDSA P-256/P-384 and Ed25519. RSA is
// refused for leaves at any size: the proxy speaks TLS 1.3 only, where RSA buys nothing but
// slower handshakes and slower key generation on every renewal, and a narrower accept list is
// less to get wrong.
func checkLeafKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return checkCurve(k)
	case ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		return fmt.Errorf("%w: RSA-%d workload keys are not accepted; use ECDSA P-256", ErrUnsupportedKey, k.N.BitLen())
	default:
		return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
	}
}

// checkAuthorityKey accepts what operators' PKIs commonly hold for a root or intermediate:
// ECDSA P-256/P-384, Ed25519 and RSA 2048–8192.
func checkAuthorityKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return checkCurve(k)
	case ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return fmt.Errorf("%w: RSA-%d (want %d–%d bits)", ErrUnsupportedKey, bits, minRSABits, maxRSABits)
		}
		return nil
	default:
		return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
	}
}

func checkCurve(k *ecdsa.PublicKey) error {
	if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
		return nil
	}
	name := "unknown"
	if k.Curve != nil {
		name = k.Curve.Params().Name
	}
	return fmt.Errorf("%w: ECDSA curve %s (want P-256 or P-384)", ErrUnsupportedKey, name)
}

// generateKey makes the keys the CA creates itself. P-256: the fastest widely supported
// signature for TLS, and the curve every SPIFFE implementation handles.
func generateKey() (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// keyMatches reports whether signer's public key is pub.
func keyMatches(pub any, signer crypto.Signer) bool {
	k, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(pub)
}
