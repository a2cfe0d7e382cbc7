package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Error is the error of every Client operation. Its message names the registry, the image and
// what went wrong in words for the person who wrote the pod spec; the flags let callers branch
// (deny, retry, fail open) without parsing text.
type Error struct {
	// Registry is the registry as named in the image reference (not a mirror it was routed to).
	Registry string
	// Image is the image reference as written.
	Image string
	// Op is what the client was doing, as a verb phrase: "resolving", "fetching signatures of".
	Op string
	// Timeout: the registry did not answer within the client's timeout (or the caller's deadline).
	Timeout bool
	// NotFound: the registry answered that the repository or the manifest does not exist.
	NotFound bool
	// Unauthorized: the registry refused the credentials, or anonymous access.
	Unauthorized bool
	// Err is the underlying error.
	Err error

	within    time.Duration // the timeout, for the message
	anonymous bool          // no credentials matched the registry
}

func (e *Error) Error() string {
	switch {
	case e.Timeout:
		return fmt.Sprintf("registry %s did not answer within %s while %s %s", e.Registry, e.within, e.Op, e.Image)
	case e.NotFound:
		return fmt.Sprintf("registry %s has no image %s (%s)", e.Registry, e.Image, notFoundDetail(e.Err))
	case e.Unauthorized && e.anonymous:
		return fmt.Sprintf("registry %s refused anonymous access while %s %s: no image pull secret or controller credential matches %s (%s)",
			e.Registry, e.Op, e.Image, e.Registry, short(e.Err))
	case e.Unauthorized:
		return fmt.Sprintf("registry %s refused the credentials while %s %s (%s)", e.Registry, e.Op, e.Image, short(e.Err))
	case errors.Is(e.Err, context.Canceled):
		return fmt.Sprintf("%s %s at registry %s was cancelled", e.Op, e.Image, e.Registry)
	case errors.Is(e.Err, http.ErrSchemeMismatch):
		return fmt.Sprintf("registry %s answered in plain http, not https, while %s %s (list it among the insecure registries to allow plain http)", e.Registry, e.Op, e.Image)
	case isNetwork(e.Err):
		return fmt.Sprintf("registry %s is unreachable while %s %s: %s", e.Registry, e.Op, e.Image, networkDetail(e.Err))
	default:
		return fmt.Sprintf("registry %s failed while %s %s: %s", e.Registry, e.Op, e.Image, short(e.Err))
	}
}

func (e *Error) Unwrap() error { return e.Err }

// WrapError turns err from an operation on ref into an *Error, classifying it (timeout, not
// found, unauthorized). op is a verb phrase such as "fetching signatures of". It returns nil
// for a nil err and err itself when it already is an *Error. kc is the keychain the
// operation used (nil for none); it only tells "refused anonymous access" from "refused the
// credentials" in the message.
func (c *Client) WrapError(ref name.Reference, op string, kc authn.Keychain, err error) error {
	if err == nil {
		return nil
	}
	return c.wrap(ref, op, kc, err)
}

func (c *Client) wrap(ref name.Reference, op string, kc authn.Keychain, err error) *Error {
	var re *Error
	if errors.As(err, &re) {
		return re
	}
	e := &Error{
		Registry: ref.Context().RegistryStr(),
		Image:    imageName(ref),
		Op:       op,
		Err:      err,
		within:   c.timeout,
	}
	switch code := statusCode(err); {
	case isTimeout(err):
		e.Timeout = true
	case code == http.StatusNotFound:
		e.NotFound = true
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.Unauthorized = true
		e.anonymous = c.anonymous(ref, kc)
	}
	return e
}

func imageName(ref name.Reference) string {
	if s := ref.String(); s != "" {
		return s
	}
	return ref.Name()
}

// isTimeout: a deadline passed (ours or the caller's) or the network timed out.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isNetwork: no HTTP answer at all (refused, reset, no route, DNS, TLS).
func isNetwork(err error) bool {
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &oe) || errors.As(err, &de)
}

// networkDetail is the first network failure in err ("dial tcp 127.0.0.1:5000: connect:
// connection refused"), without the URLs and the repetition of go-containerregistry's
// https-then-http attempts.
func networkDetail(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Error()
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.Error()
	}
	return short(err)
}

// statusCode is the HTTP status of a registry's error answer, or 0.
func statusCode(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

// notFoundDetail says what the registry reported missing.
func notFoundDetail(err error) string {
	var te *transport.Error
	if errors.As(err, &te) {
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode:
				return "manifest unknown"
			case transport.NameUnknownErrorCode:
				return "repository unknown"
			case transport.BlobUnknownErrorCode:
				return "blob unknown"
			}
		}
	}
	return "not found"
}

// short is err's message without the request URL go-containerregistry puts first, which
// repeats the registry and the image and, behind a mirror, shows an address the user never
// wrote.
func short(err error) string {
	var te *transport.Error
	if errors.As(err, &te) {
		if len(te.Errors) > 0 {
			return te.Error()
		}
		return fmt.Sprintf("%d %s", te.StatusCode, http.StatusText(te.StatusCode))
	}
	msg := err.Error()
	// url.Error: `Get "https://host/v2/...": dial tcp ...: connection refused`.
	if i := strings.Index(msg, `": `); i > 0 && strings.Contains(msg[:i], "://") {
		return msg[i+3:]
	}
	return msg
}
