package ca

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Defaults for Config. Lifetimes are short for leaves (a stolen key is useful for hours, not
// months, and needs no revocation list), longer for the online intermediate, long for roots
// that must be distributed to every proxy.
const (
	DefaultTrustDomain       = "cluster.local"
	DefaultTTL               = 24 * time.Hour
	DefaultMaxTTL            = 7 * 24 * time.Hour
	MinTTL                   = time.Minute
	DefaultIntermediateTTL   = 30 * 24 * time.Hour
	DefaultRootTTL           = 10 * 365 * 24 * time.Hour
	DefaultBundlePropagation = time.Hour
	// rotationMargin is added to MaxTTL for the default RotationOverlap, to cover clock skew
	// and a leaf issued in the instant before the commit.
	rotationMargin = time.Hour
)

// Config configures a CA. The zero value is usable: every field has a documented default.
type Config struct {
	// TrustDomain of every identity issued. Default "cluster.local".
	TrustDomain string
	// Authority is the root (and optionally the intermediate) to use; nil generates both.
	Authority *Authority
	// DefaultTTL is used when a request asks for TTL 0. Default 24h, or MaxTTL if lower.
	DefaultTTL time.Duration
	// MaxTTL bounds requested lifetimes; requests above it are refused. Default 7 days.
	MaxTTL time.Duration
	// IntermediateTTL is the lifetime of intermediates the CA creates. Default 30 days; it must
	// be at least twice MaxTTL so that half-life renewal never truncates a full-length leaf.
	IntermediateTTL time.Duration
	// RootTTL is the lifetime of roots the CA generates. Default 10 years.
	RootTTL time.Duration
	// RotationOverlap is how long a replaced root stays in the bundle after CommitRotation.
	// Default MaxTTL + 1h; it may not be shorter than MaxTTL, or leaves signed just before the
	// commit would stop verifying while still valid.
	RotationOverlap time.Duration
	// BundlePropagation is how long a prepared root must have been in the bundle before
	// CommitRotation starts signing with it. Default 1h.
	BundlePropagation time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// CA issues X509-SVIDs for one trust domain. It is safe for concurrent use: issuance reads an
// immutable snapshot through an atomic pointer and never blocks on renewal or rotation, which
// build a new snapshot and swap it in only when everything succeeded.
type CA struct {
	td     spiffeid.TrustDomain
	cfg    Config
	newKey func() (crypto.Signer, error) // replaced in tests to make renewal fail

	mu    sync.Mutex // serialises writers (renewal, rotation)
	state atomic.Pointer[state]
}

// state is one immutable snapshot of the CA.
type state struct {
	active  Authority
	pending *pendingRoot
	retired []retiredRoot
}

// pendingRoot is a root that is already in the bundle but not yet signing.
type pendingRoot struct {
	Authority
	preparedAt time.Time
}

// retiredRoot is a replaced root, still trusted until its leaves have expired.
type retiredRoot struct {
	cert  *x509.Certificate
	until time.Time
}

// New creates a CA, generating the root and intermediate unless cfg.Authority provides them.
func New(cfg Config) (*CA, error) {
	c, err := newCA(cfg)
	if err != nil {
		return nil, err
	}
	active, err := c.complete(cfg.Authority)
	if err != nil {
		return nil, err
	}
	c.state.Store(&state{active: active})
	return c, nil
}

func newCA(cfg Config) (*CA, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	td, err := spiffeid.TrustDomainFromString(cfg.TrustDomain)
	if err != nil {
		return nil, fmt.Errorf("%w: trust domain %s: %v", ErrConfig, quote(cfg.TrustDomain), err)
	}
	// TrustDomainFromString also accepts "spiffe://td/path"; a bare name is less surprising.
	if td.Name() != cfg.TrustDomain {
		return nil, fmt.Errorf("%w: trust domain %s: give the bare name, e.g. %s", ErrConfig, quote(cfg.TrustDomain), quote(td.Name()))
	}
	return &CA{td: td, cfg: cfg, newKey: generateKey}, nil
}

func withDefaults(cfg Config) (Config, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if cfg.TrustDomain == "" {
		cfg.TrustDomain = DefaultTrustDomain
	}
	def(&cfg.MaxTTL, DefaultMaxTTL)
	def(&cfg.DefaultTTL, min(DefaultTTL, cfg.MaxTTL))
	def(&cfg.IntermediateTTL, DefaultIntermediateTTL)
	def(&cfg.RootTTL, DefaultRootTTL)
	def(&cfg.RotationOverlap, cfg.MaxTTL+rotationMargin)
	def(&cfg.BundlePropagation, DefaultBundlePropagation)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.MaxTTL < MinTTL:
		return cfg, fmt.Errorf("%w: MaxTTL %s is below the minimum %s", ErrConfig, cfg.MaxTTL, MinTTL)
	case cfg.DefaultTTL < MinTTL || cfg.DefaultTTL > cfg.MaxTTL:
		return cfg, fmt.Errorf("%w: DefaultTTL %s is outside [%s, %s]", ErrConfig, cfg.DefaultTTL, MinTTL, cfg.MaxTTL)
	case cfg.IntermediateTTL < 2*cfg.MaxTTL:
		return cfg, fmt.Errorf("%w: IntermediateTTL %s must be at least twice MaxTTL %s", ErrConfig, cfg.IntermediateTTL, cfg.MaxTTL)
	case cfg.RootTTL < cfg.IntermediateTTL:
		return cfg, fmt.Errorf("%w: RootTTL %s is shorter than IntermediateTTL %s", ErrConfig, cfg.RootTTL, cfg.IntermediateTTL)
	case cfg.RotationOverlap < cfg.MaxTTL:
		return cfg, fmt.Errorf("%w: RotationOverlap %s is shorter than MaxTTL %s", ErrConfig, cfg.RotationOverlap, cfg.MaxTTL)
	case cfg.BundlePropagation < 0:
		return cfg, fmt.Errorf("%w: negative BundlePropagation", ErrConfig)
	}
	return cfg, nil
}

// complete validates a (possibly partial) authority and fills in what is missing: a generated
// root when a is nil, an intermediate signed by the root key when none is given.
func (c *CA) complete(a *Authority) (Authority, error) {
	now := c.cfg.Now()
	var out Authority
	if a == nil {
		root, key, err := newRoot(c.td, now, c.cfg.RootTTL)
		if err != nil {
			return Authority{}, err
		}
		out = Authority{Root: root, RootKey: key}
	} else {
		out = *a
	}
	if err := checkRoot(out.Root, out.RootKey, now); err != nil {
		return Authority{}, err
	}
	if out.Intermediate == nil {
		inter, key, err := c.signIntermediate(out, now)
		if err != nil {
			return Authority{}, err
		}
		out.Intermediate, out.IntermediateKey = inter, key
	}
	if err := checkIntermediate(out.Intermediate, out.IntermediateKey, out.Root, now); err != nil {
		return Authority{}, err
	}
	return out, nil
}

// signIntermediate makes a fresh intermediate key and certificate under a's root.
func (c *CA) signIntermediate(a Authority, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	if a.RootKey == nil {
		return nil, nil, fmt.Errorf("creating intermediate: %w", ErrRootKeyUnavailable)
	}
	key, err := c.newKey()
	if err != nil {
		return nil, nil, fmt.Errorf("generating intermediate key: %w", err)
	}
	cert, err := newIntermediate(c.td, a.Root, a.RootKey, key, now, c.cfg.IntermediateTTL)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// TrustDomain returns the CA's trust domain.
func (c *CA) TrustDomain() spiffeid.TrustDomain { return c.td }

// Root returns the root currently signing (through the intermediate).
func (c *CA) Root() *x509.Certificate { return c.state.Load().active.Root }

// Intermediate returns the intermediate currently signing leaves.
func (c *CA) Intermediate() *x509.Certificate { return c.state.Load().active.Intermediate }
