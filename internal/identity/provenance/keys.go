package provenance

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// KeySuffix ends the data keys of the ConfigMap that holds the trusted public keys: the key ID
// is the rest of the name ("ci-2025.pub" → key ID "ci-2025").
const KeySuffix = ".pub"

// ParseKeys reads trusted public keys from ConfigMap data: every entry "<key-id>.pub" holds one
// Ed25519 public key as a PEM "PUBLIC KEY" block (PKIX). Other entries are ignored. Every bad
// entry is reported; the good ones are returned all the same, so one broken key does not
// disable the others.
func ParseKeys(data map[string]string) (Keys, error) {
	keys := Keys{}
	var errs []error
	for name, v := range data {
		id, ok := strings.CutSuffix(name, KeySuffix)
		if !ok {
			continue
		}
		if !validKeyID(id) {
			errs = append(errs, fmt.Errorf("key %q: invalid key ID", name))
			continue
		}
		k, err := ParsePublicKey([]byte(v))
		if err != nil {
			errs = append(errs, fmt.Errorf("key %q: %w", name, err))
			continue
		}
		keys[id] = k
	}
	return keys, errors.Join(errs...)
}

// ParsePublicKey reads one Ed25519 public key from a PEM "PUBLIC KEY" block.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("no PEM PUBLIC KEY block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing public key: %w", err)
	}
	k, ok := pub.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%T is not an Ed25519 key", pub)
	}
	return k, nil
}
