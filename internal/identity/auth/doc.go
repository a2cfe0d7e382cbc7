// Package auth authenticates a proxy by its pod's projected ServiceAccount token: TokenReview
// for the identity service's audience, then the pod the token is bound to, read live from the
// API server, which must exist with the token's UID, not be terminating or finished, run as the
// token's ServiceAccount, and be in the mesh by the injector's rule (inject.Wanted). The
// namespace and ServiceAccount of the identity come from the TokenReview, never from the
// request.
//
// Errors wrap ErrUnauthenticated, ErrPermissionDenied or ErrUnavailable; the gRPC edge turns
// them into status codes.
package auth
