package ca

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"time"
)

// IntermediateRenewalDue returns when the active intermediate reaches half its lifetime. Renewing
// at half-life leaves at least IntermediateTTL/2 >= MaxTTL of validity, so a failed renewal can
// be retried for days before any leaf gets truncated.
func (c *CA) IntermediateRenewalDue() time.Time {
	inter := c.state.Load().active.Intermediate
	return inter.NotBefore.Add(inter.NotAfter.Sub(inter.NotBefore) / 2)
}

// RenewIntermediateIfDue renews the intermediate once it has reached half its lifetime and
// reports whether it did. The identity service calls it on a timer; on error the old
// intermediate keeps signing.
func (c *CA) RenewIntermediateIfDue() (bool, error) {
	if c.cfg.Now().Before(c.IntermediateRenewalDue()) {
		return false, nil
	}
	if err := c.RenewIntermediate(); err != nil {
		return false, err
	}
	return true, nil
}

// RenewIntermediate signs a new intermediate with a new key under the active root. It needs
// the root key (ErrRootKeyUnavailable otherwise: use ReplaceIntermediate). Leaves already
// issued stay valid: they chain to the same root through the intermediate they carry.
func (c *CA) RenewIntermediate() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.state.Load()
	now := c.cfg.Now()
	inter, key, err := c.signIntermediate(old.active, now)
	if err != nil {
		return fmt.Errorf("renewing intermediate: %w", err)
	}
	if err := checkIntermediate(inter, key, old.active.Root, now); err != nil {
		return fmt.Errorf("renewing intermediate: %w", err)
	}
	c.swapIntermediate(old, inter, key, now)
	return nil
}

// ReplaceIntermediate installs an intermediate signed elsewhere (cold-root mode) after checking
// that it chains to the active root and matches key.
func (c *CA) ReplaceIntermediate(cert *x509.Certificate, key crypto.Signer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.state.Load()
	now := c.cfg.Now()
	if err := checkIntermediate(cert, key, old.active.Root, now); err != nil {
		return fmt.Errorf("replacing intermediate: %w", err)
	}
	c.swapIntermediate(old, cert, key, now)
	return nil
}

func (c *CA) swapIntermediate(old *state, cert *x509.Certificate, key crypto.Signer, now time.Time) {
	ns := *old
	ns.active.Intermediate, ns.active.IntermediateKey = cert, key
	ns.retired = old.liveRetired(now)
	c.state.Store(&ns)
}
