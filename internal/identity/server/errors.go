package server

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrider-sec/outrider/internal/identity/auth"
	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/identity/push"
)

// codeOf maps the typed errors of authentication, the CA and the push hub to gRPC codes.
func codeOf(err error) codes.Code {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return codes.Unauthenticated
	case errors.Is(err, auth.ErrPermissionDenied), errors.Is(err, push.ErrPodGone):
		return codes.PermissionDenied
	case errors.Is(err, auth.ErrUnavailable), errors.Is(err, ca.ErrCAExpired):
		return codes.Unavailable
	case errors.Is(err, ca.ErrInvalidCSR), errors.Is(err, ca.ErrUnsupportedKey), errors.Is(err, ca.ErrTTL),
		errors.Is(err, ca.ErrInvalidName), errors.Is(err, ca.ErrInvalidProvenance), errors.Is(err, errInvalidArgument):
		return codes.InvalidArgument
	}
	return codes.Internal
}

// errInvalidArgument marks a request the service refuses before looking at its token.
var errInvalidArgument = errors.New("invalid argument")

// statusError turns err into the gRPC status the client sees. The message is the reason; the
// errors it comes from carry no secrets (tokens and keys never appear in them).
func statusError(err error) error {
	return status.Error(codeOf(err), err.Error())
}
