package ca

import (
	"crypto/x509"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
)

// Bundle returns the roots a verifier should trust now: the active root, a prepared root
// (so it reaches every proxy before any leaf chains to it), and replaced roots until their
// overlap ends. Intermediates are never in the bundle; leaves carry theirs.
func (c *CA) Bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(c.td, c.state.Load().trusted(c.cfg.Now()))
}

// trusted lists the roots to trust at now, active first.
func (s *state) trusted(now time.Time) []*x509.Certificate {
	roots := []*x509.Certificate{s.active.Root}
	if s.pending != nil {
		roots = append(roots, s.pending.Root)
	}
	for _, r := range s.retired {
		if now.Before(r.until) {
			roots = append(roots, r.cert)
		}
	}
	return roots
}

// liveRetired drops replaced roots whose overlap has ended.
func (s *state) liveRetired(now time.Time) []retiredRoot {
	var out []retiredRoot
	for _, r := range s.retired {
		if now.Before(r.until) {
			out = append(out, r)
		}
	}
	return out
}

// NextBundleChange returns when Bundle will next change by itself, that is when the first
// replaced root still in it reaches the end of its overlap, and false when none will. The
// identity service schedules a bundle push for that moment.
func (c *CA) NextBundleChange() (time.Time, bool) {
	now := c.cfg.Now()
	var next time.Time
	for _, r := range c.state.Load().retired {
		if now.Before(r.until) && (next.IsZero() || r.until.Before(next)) {
			next = r.until
		}
	}
	return next, !next.IsZero()
}

// BundlePropagation returns how long a prepared root must be in the bundle before
// CommitRotation accepts it (Config.BundlePropagation after defaults).
func (c *CA) BundlePropagation() time.Duration { return c.cfg.BundlePropagation }
