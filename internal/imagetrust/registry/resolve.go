package registry

import (
	"context"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const opResolve = "resolving"

// Resolve returns the digest the runtime will pin for ref: a digest reference's own digest,
// without asking the registry; for a tag, the digest of the manifest the registry serves for
// it, an image index's own digest for a multi-platform image. It asks with a HEAD and falls
// back to a GET when the HEAD answer lacks Docker-Content-Digest or is an error a GET may
// explain (a 404 says "manifest unknown" or "repository unknown" only in a GET's body).
// Credentials come from kc (the pod's pull secrets, may be nil), then the controller's
// keychain. The whole call is bounded by the client's timeout. Errors are *Error.
func (c *Client) Resolve(ctx context.Context, ref name.Reference, kc authn.Keychain) (v1.Hash, error) {
	if d, ok := ref.(name.Digest); ok {
		h, err := v1.NewHash(d.DigestStr())
		if err != nil {
			return v1.Hash{}, c.wrap(ref, opResolve, kc, err)
		}
		return h, nil
	}
	within := budget(ctx, c.timeout)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	opts := c.RemoteOptions(ctx, kc)

	desc, err := remote.Head(ref, opts...)
	if err == nil {
		return desc.Digest, nil
	}
	if getMayHelp(ctx, err) {
		var full *remote.Descriptor
		if full, err = remote.Get(ref, opts...); err == nil {
			return full.Digest, nil
		}
	}
	e := c.wrap(ref, opResolve, kc, err)
	e.within = within
	return v1.Hash{}, e
}

// getMayHelp: the HEAD failed in a way a GET may answer or explain, with time left.
func getMayHelp(ctx context.Context, err error) bool {
	if ctx.Err() != nil || isTimeout(err) || isNetwork(err) {
		return false
	}
	code := statusCode(err)
	return code != http.StatusUnauthorized && code != http.StatusForbidden
}

// budget is how long an operation under ctx may take: the timeout, or less when the caller's
// deadline comes first (rounded for messages).
func budget(ctx context.Context, timeout time.Duration) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return timeout
	}
	switch rem := time.Until(dl); {
	case rem >= timeout:
		return timeout
	case rem >= 100*time.Millisecond:
		return rem.Round(100 * time.Millisecond)
	default:
		return max(rem, 0).Round(time.Millisecond)
	}
}
