package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultTimeout bounds one registry operation when Options.Timeout is zero. The admission
// webhook has 5s in all; a registry that needs more than 2s is treated as down.
const DefaultTimeout = 2 * time.Second

// Options configure a Client. The zero value is usable: anonymous access, no mirrors, the
// default timeout, no metrics.
type Options struct {
	// Timeout bounds each HTTP request to a registry (headers and body) and each Client
	// operation as a whole (Resolve: ping, token, HEAD and GET together). Default DefaultTimeout.
	Timeout time.Duration
	// Mirrors maps a registry host, as named in image references ("127.0.0.1:5000"; Docker
	// Hub is "docker.io"), to the host:port requests for it are sent to ("10.88.0.1:5000"), as
	// containerd's mirrors do: the URL's host becomes the mirror (so TLS verifies the mirror's
	// name), the scheme stays the one the reference implies, and credentials are still chosen
	// by the name in the reference. Metrics name the reference's registry.
	Mirrors map[string]string
	// Insecure lists registry hosts ("host" for any port, or "host:port") that may be spoken
	// to over plain http when they do not speak https, besides those go-containerregistry
	// already allows (localhost, loopback, RFC 1918 addresses, *.local).
	Insecure []string
	// Keychain holds the controller's own credentials, tried after a pod's pull secrets.
	// Default anonymous: in a cluster, authn.DefaultKeychain would read whatever docker config
	// the controller's file system happens to hold.
	Keychain authn.Keychain
	// Metrics receives the request counters; nil records nothing.
	Metrics *Metrics
}

// Client talks to OCI registries for image trust. It is safe for concurrent use and meant to
// be shared: its connections are pooled.
type Client struct {
	timeout   time.Duration
	keychain  authn.Keychain
	transport http.RoundTripper
}

// New returns a Client for opts.
func New(opts Options) *Client {
	c := &Client{timeout: opts.Timeout, keychain: opts.Keychain}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.keychain == nil {
		c.keychain = anonymousKeychain{}
	}
	c.transport = newTransport(opts.Mirrors, opts.Insecure, c.timeout, opts.Metrics)
	return c
}

// Timeout is the bound of one operation (Options.Timeout or DefaultTimeout).
func (c *Client) Timeout() time.Duration { return c.timeout }

// RemoteOptions are the go-containerregistry options for one operation under ctx: the
// client's transport (mirrors, per-request timeout, metrics, pooled connections), at most one
// quick retry, and credentials from kc (a pod's pull secrets; may be nil) first, then the
// controller's keychain. Wrap errors of remote calls made with them with WrapError.
func (c *Client) RemoteOptions(ctx context.Context, kc authn.Keychain) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(c.transport),
		remote.WithAuthFromKeychain(c.chain(kc)),
		// go-containerregistry's default retries three times over 4s, longer than the
		// webhook may wait; one quick retry still covers a dropped keep-alive connection.
		remote.WithRetryBackoff(remote.Backoff{Duration: 50 * time.Millisecond, Factor: 2, Steps: 2}),
		remote.WithUserAgent("outrider"),
	}
}

// chain is kc, then the controller's keychain.
func (c *Client) chain(kc authn.Keychain) authn.Keychain {
	if kc == nil {
		return c.keychain
	}
	return authn.NewMultiKeychain(kc, c.keychain)
}

// anonymous reports whether no credential of kc or the controller matches ref's repository.
func (c *Client) anonymous(ref name.Reference, kc authn.Keychain) bool {
	auth, err := c.chain(kc).Resolve(ref.Context())
	return err == nil && auth == authn.Anonymous
}

// CacheKey is a cache key for results about ref obtained with kc: the reference plus a hash of
// the credentials that would be sent. Results that depend on access (a resolved digest, an
// "unauthorized" error) must not be shared between pods whose pull secrets differ; pods with
// the same credentials (or none) share entries.
func (c *Client) CacheKey(ref name.Reference, kc authn.Keychain) string {
	key := ref.Name()
	auth, err := c.chain(kc).Resolve(ref.Context())
	if err != nil {
		return key + "|keychain-error"
	}
	if auth == authn.Anonymous {
		return key + "|anonymous"
	}
	cfg, err := authn.Authorization(context.Background(), auth)
	if err != nil {
		return key + "|keychain-error"
	}
	b, _ := json.Marshal(cfg)
	sum := sha256.Sum256(b)
	return key + "|" + hex.EncodeToString(sum[:12])
}

// anonymousKeychain resolves every registry to anonymous access.
type anonymousKeychain struct{}

func (anonymousKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.Anonymous, nil
}
