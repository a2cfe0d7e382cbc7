package provenance

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Annotation is the pod annotation that carries the signed provenance.
const Annotation = "security.outrider.dev/provenance"

// Version is the only annotation format this package reads and writes.
const Version = "v1"

// Limits of the annotation. Authority names follow the SecurityPolicy CRD's pattern for
// Authority.Name (a DNS-1123-like name of at most 63 bytes), so they never contain the ';' and
// ',' separators; at most 16 of them, as the CA allows in a certificate.
const (
	maxAnnotationLen = 2048
	maxAuthorities   = 16
	maxNameLen       = 63
)

var (
	authorityPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)
	keyIDPattern     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
)

// Errors Parse, Sign and Verify wrap, for callers that branch on the reason.
var (
	ErrNoAnnotation = errors.New("no provenance annotation")
	ErrMalformed    = errors.New("malformed provenance annotation")
	ErrUnknownKey   = errors.New("provenance signed by an unknown key")
	ErrSignature    = errors.New("provenance signature does not verify")
	ErrUnpinned     = errors.New("image not pinned to a digest")
	ErrNotRunning   = errors.New("running image differs from the signed one")
)

// Signed is a parsed annotation.
type Signed struct {
	KeyID string
	// Authorities, sorted and without duplicates.
	Authorities []string
	Signature   []byte
}

// String formats s as the annotation value.
func (s Signed) String() string {
	return strings.Join([]string{Version, s.KeyID, strings.Join(s.Authorities, ","), base64.RawURLEncoding.EncodeToString(s.Signature)}, ";")
}

// Parse reads an annotation value strictly: exactly four fields, version v1, a key ID of at most
// 63 bytes of [A-Za-z0-9._-], 1–16 authority names sorted and without duplicates, and a 64-byte
// Ed25519 signature in unpadded base64url. A value it accepts formats back to the same string.
func Parse(value string) (Signed, error) {
	if len(value) > maxAnnotationLen {
		return Signed{}, fmt.Errorf("%w: %d bytes (at most %d)", ErrMalformed, len(value), maxAnnotationLen)
	}
	f := strings.Split(value, ";")
	if len(f) != 4 {
		return Signed{}, fmt.Errorf("%w: %d fields, want 4 (v1;<key-id>;<authorities>;<signature>)", ErrMalformed, len(f))
	}
	if f[0] != Version {
		return Signed{}, fmt.Errorf("%w: version %.16q, want %s", ErrMalformed, f[0], Version)
	}
	if !validKeyID(f[1]) {
		return Signed{}, fmt.Errorf("%w: key ID %.70q", ErrMalformed, f[1])
	}
	auth := strings.Split(f[2], ",")
	if err := checkAuthorities(auth); err != nil {
		return Signed{}, err
	}
	if !slices.IsSorted(auth) || len(slices.Compact(slices.Clone(auth))) != len(auth) {
		return Signed{}, fmt.Errorf("%w: authorities must be sorted and unique", ErrMalformed)
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(f[3])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Signed{}, fmt.Errorf("%w: signature is not %d bytes of unpadded base64url", ErrMalformed, ed25519.SignatureSize)
	}
	return Signed{KeyID: f[1], Authorities: auth, Signature: sig}, nil
}

func validKeyID(s string) bool { return len(s) <= maxNameLen && keyIDPattern.MatchString(s) }

func checkAuthorities(auth []string) error {
	if len(auth) == 0 || len(auth) > maxAuthorities {
		return fmt.Errorf("%w: %d authorities (want 1–%d)", ErrMalformed, len(auth), maxAuthorities)
	}
	for _, a := range auth {
		if len(a) > maxNameLen || !authorityPattern.MatchString(a) {
			return fmt.Errorf("%w: authority %.70q is not a valid authority name", ErrMalformed, a)
		}
	}
	return nil
}

// Sign returns the annotation value for pod: the controller calls it in the mutating webhook,
// after pinning every image to a digest and verifying the authorities. pod.Namespace must be
// set (admission requests carry it beside the object). It refuses a pod with an image that is
// not pinned, since its provenance could not be bound to what runs.
func Sign(key ed25519.PrivateKey, keyID string, pod *corev1.Pod, authorities []string) (string, error) {
	if !validKeyID(keyID) {
		return "", fmt.Errorf("%w: key ID %.70q", ErrMalformed, keyID)
	}
	if len(key) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("provenance key: want an Ed25519 private key")
	}
	auth := slices.Clone(authorities)
	slices.Sort(auth)
	auth = slices.Compact(auth)
	if err := checkAuthorities(auth); err != nil {
		return "", err
	}
	for _, c := range PodImages(&pod.Spec) {
		if _, ok := digestOf(c.Image); !ok {
			return "", fmt.Errorf("%w: %s %s image %.200q", ErrUnpinned, c.List, c.Name, c.Image)
		}
	}
	sig := ed25519.Sign(key, PodMessage(pod, auth))
	return Signed{KeyID: keyID, Authorities: auth, Signature: sig}.String(), nil
}
