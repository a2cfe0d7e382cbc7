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
