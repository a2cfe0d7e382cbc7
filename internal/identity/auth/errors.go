package auth

import (
	"errors"
	"strconv"
)

// Sentinel errors every refusal wraps, with a reason for the caller and the log.
var (
	// ErrUnauthenticated: no token, or one the API server does not accept for our audience
	// (invalid, expired, revoked, another audience), or one not bound to a pod.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied: a valid token whose pod may not have an identity: gone, replaced,
	// terminating, finished, running as another ServiceAccount, or not in the mesh.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrUnavailable: the API server could not be asked; the caller should retry.
	ErrUnavailable = errors.New("unavailable")
)

// quote renders untrusted input for a message, bounded.
func quote(s string) string {
	const max = 128
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
