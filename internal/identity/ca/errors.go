package ca

import (
	"errors"
	"strconv"
)

// Sentinel errors that callers branch on. Every error returned by this package wraps one of
// them (test with errors.Is) together with a detail for logs. No error ever contains private
// key material.
var (
	// ErrInvalidCSR: the CSR could not be decoded or its self-signature does not verify.
	ErrInvalidCSR = errors.New("invalid certificate signing request")
	// ErrUnsupportedKey: the key type or size is not one this CA accepts.
	ErrUnsupportedKey = errors.New("unsupported key")
	// ErrInvalidName: a namespace or service account name is not a valid Kubernetes name.
	ErrInvalidName = errors.New("invalid workload name")
	// ErrTTL: the requested certificate lifetime is outside the configured bounds.
	ErrTTL = errors.New("certificate lifetime out of bounds")
	// ErrInvalidProvenance: a provenance entry or extension is malformed.
	ErrInvalidProvenance = errors.New("invalid provenance")
	// ErrConfig: the CA configuration is inconsistent.
	ErrConfig = errors.New("invalid CA configuration")
	// ErrInvalidAuthority: a root or intermediate certificate or key is unusable.
	ErrInvalidAuthority = errors.New("invalid CA certificate or key")
	// ErrCAExpired: the intermediate (or root) is expired or too close to expiry to issue.
	ErrCAExpired = errors.New("CA certificate expired")
	// ErrRootKeyUnavailable: the operation needs the root private key, which is kept offline.
	ErrRootKeyUnavailable = errors.New("root private key not available")
	// ErrRotationInProgress: a root rotation is already prepared.
	ErrRotationInProgress = errors.New("root rotation already prepared")
	// ErrNoRotation: CommitRotation or AbortRotation without a prepared rotation.
	ErrNoRotation = errors.New("no root rotation prepared")
	// ErrRotationTooEarly: the new root has not been in the bundle for BundlePropagation yet.
	ErrRotationTooEarly = errors.New("root rotation committed before the bundle propagated")
	// ErrInvalidState: persisted CA state could not be loaded.
	ErrInvalidState = errors.New("invalid CA state")
)

// quote renders untrusted input for an error message, bounded so a hostile caller cannot
// make us log megabytes.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
