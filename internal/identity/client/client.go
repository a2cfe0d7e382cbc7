package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	pb "github.com/outrider-sec/outrider/internal/identity/identitypb"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// Sink receives what the client obtains; *proxy.Proxy implements it.
type Sink interface {
	SetCertificate(tls.Certificate) error
	SetTrustBundle(*x509bundle.Bundle) error
	SetPolicy(*authz.Policy) error
	SetEndpoints(proxy.Endpoints)
}

// Defaults of Config: where the injector (internal/mesh/inject) mounts the projected token and
// the bundle ConfigMap in the proxy container.
const (
	DefaultTokenFile  = "/var/run/secrets/outrider/identity/token"
	DefaultBundleFile = "/var/run/outrider/bundle/bundle.pem"
	defaultMinBackoff = 500 * time.Millisecond
	defaultMaxBackoff = 30 * time.Second
	callTimeout       = 15 * time.Second
)

// Config configures a Client. Address, ServerID and Sink are required.
type Config struct {
	// Address of the identity service, "host:port" (resolved through DNS) or any gRPC target.
	Address string
	// ServerID is the SPIFFE ID the service must present,
	// spiffe://<trust-domain>/ns/<its namespace>/sa/<its ServiceAccount>.
	ServerID spiffeid.ID
	// TokenFile is the projected ServiceAccount token (audience outrider-identity). Default
	// /var/run/secrets/outrider/identity/token.
	TokenFile string
	// BundleFile is the bootstrap trust bundle, PEM. Default /var/run/outrider/bundle/bundle.pem.
	BundleFile string
	// TTL asked for each certificate; 0 lets the service choose (24h unless configured).
	TTL time.Duration
	// Sink receives the certificate, bundle, policy and endpoints.
	Sink Sink
	// Log receives the client's logs. Default: discard.
	Log *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between failed attempts. Defaults 500ms, 30s.
	MinBackoff, MaxBackoff time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// DialOptions are added to the gRPC connection's options (tests use them).
	DialOptions []grpc.DialOption
}

// Client keeps the proxy's identity and state current. Create it with New, run it with Run.
type Client struct {
	cfg     Config
	bundles *bundleSource
	conn    *grpc.ClientConn
	api     pb.IdentityClient

	hasCert, hasBundle, hasPolicy atomic.Bool
	expiry                        atomic.Int64 // unix nanoseconds of the installed leaf's NotAfter

	// after is time.After; tests shorten waits through it.
	after func(time.Duration) <-chan time.Time
}

// New validates cfg and prepares the connection (it dials lazily).
func New(cfg Config) (*Client, error) {
	if cfg.Address == "" || cfg.ServerID.IsZero() || cfg.Sink == nil {
		return nil, errors.New("identity client: Address, ServerID and Sink are required")
	}
	if cfg.TokenFile == "" {
		cfg.TokenFile = DefaultTokenFile
	}
	if cfg.BundleFile == "" {
		cfg.BundleFile = DefaultBundleFile
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = defaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = defaultMaxBackoff
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg, after: time.After}
	c.bundles = newBundleSource(cfg.ServerID.TrustDomain(), cfg.BundleFile)
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(c.bundles.tlsConfig(cfg.ServerID))),
		// Find a dead service on an idle Watch stream; within the service's enforcement policy.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
	}, cfg.DialOptions...)
	conn, err := grpc.NewClient(cfg.Address, opts...)
	if err != nil {
		return nil, fmt.Errorf("identity client: %w", err)
	}
	c.conn, c.api = conn, pb.NewIdentityClient(conn)
	return c, nil
}

// Run keeps the certificate renewed and the Watch stream applied until ctx ends, then closes
// the connection. The bootstrap bundle is installed first, so the proxy can verify peers as
// soon as it has a certificate.
func (c *Client) Run(ctx context.Context) error {
	defer c.conn.Close()
	if b, err := c.bundles.bootstrap(); err != nil {
		c.cfg.Log.Warn("bootstrap trust bundle unreadable; waiting for the service's", "file", c.cfg.BundleFile, "err", err.Error())
	} else if err := c.cfg.Sink.SetTrustBundle(b); err == nil {
		c.hasBundle.Store(true)
	}
	done := make(chan struct{})
	go func() { defer close(done); c.watchLoop(ctx) }()
	c.renewLoop(ctx)
	<-done
	return nil
}

// Ready returns nil once the proxy has a certificate, a trust bundle and a policy.
func (c *Client) Ready() error {
	var missing []error
	if !c.hasCert.Load() {
		missing = append(missing, errors.New("no certificate yet"))
	}
	if !c.hasBundle.Load() {
		missing = append(missing, errors.New("no trust bundle yet"))
	}
	if !c.hasPolicy.Load() {
		missing = append(missing, errors.New("no policy yet"))
	}
	return errors.Join(missing...)
}

// Expiry returns when the installed certificate expires (zero before the first).
func (c *Client) Expiry() time.Time {
	if n := c.expiry.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// backoff is an exponential delay with full jitter between MinBackoff and the current cap.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	b.cur = min(max(2*b.cur, b.min), b.max)
	return b.min + rand.N(b.cur-b.min+1)
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits d or until ctx ends; false when ctx ended.
func (c *Client) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-c.after(d):
		return true
	}
}

// The proxy is the sink the client is written for.
var _ Sink = (*proxy.Proxy)(nil)
