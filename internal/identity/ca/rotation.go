package ca

import (
	"fmt"
	"time"
)

// Root rotation is two steps, because a verifier can only accept a leaf whose root it already
// has:
//
//  1. PrepareRotation puts the new root B in the bundle beside the active root A. Nothing is
//     signed under B yet. The identity service pushes the bundle to every proxy.
//  2. CommitRotation, no sooner than BundlePropagation later, makes B (with a fresh
//     intermediate) the signer. A stays in the bundle for RotationOverlap, long enough for
//     every leaf signed under A to expire, then leaves it.
//
// Swapping in one step would hand out B-leaves that proxies still holding the A-only bundle
// reject, and dropping A at the swap would break every A-leaf still in use.

// PrepareRotation adds next's root to the bundle without signing with it. A nil next generates
// a new root. next.Intermediate may be given (cold root: signed offline); otherwise next.RootKey
// is required so CommitRotation can sign a fresh intermediate.
func (c *CA) PrepareRotation(next *Authority) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.state.Load()
	if old.pending != nil {
		return ErrRotationInProgress
	}
	now := c.cfg.Now()
	var p Authority
	if next == nil {
		root, key, err := newRoot(c.td, now, c.cfg.RootTTL)
		if err != nil {
			return fmt.Errorf("preparing rotation: %w", err)
		}
		p = Authority{Root: root, RootKey: key}
	} else {
		p = *next
	}
	if err := c.checkNext(p, old, now); err != nil {
		return fmt.Errorf("preparing rotation: %w", err)
	}
	ns := *old
	ns.pending = &pendingRoot{Authority: p, preparedAt: now}
	ns.retired = old.liveRetired(now)
	c.state.Store(&ns)
	return nil
}

func (c *CA) checkNext(p Authority, old *state, now time.Time) error {
	if err := checkRoot(p.Root, p.RootKey, now); err != nil {
		return err
	}
	if p.Root.Equal(old.active.Root) {
		return fmt.Errorf("%w: the new root is the active root", ErrInvalidAuthority)
	}
	if p.Intermediate != nil {
		return checkIntermediate(p.Intermediate, p.IntermediateKey, p.Root, now)
	}
	if p.RootKey == nil {
		return fmt.Errorf("%w: a new root needs its key or a pre-signed intermediate", ErrRootKeyUnavailable)
	}
	return nil
}

// CommitRotation makes the prepared root the signer, with a freshly signed intermediate when
// its key is available. It refuses before the root has been in the bundle for
// BundlePropagation. On error nothing changes.
func (c *CA) CommitRotation() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.state.Load()
	if old.pending == nil {
		return ErrNoRotation
	}
	now := c.cfg.Now()
	if ready := old.pending.preparedAt.Add(c.cfg.BundlePropagation); now.Before(ready) {
		return fmt.Errorf("%w: wait until %s", ErrRotationTooEarly, ready.UTC().Format(time.RFC3339))
	}
	next := old.pending.Authority
	if next.RootKey != nil {
		inter, key, err := c.signIntermediate(next, now)
		if err != nil {
			return fmt.Errorf("committing rotation: %w", err)
		}
		next.Intermediate, next.IntermediateKey = inter, key
	}
	if err := checkIntermediate(next.Intermediate, next.IntermediateKey, next.Root, now); err != nil {
		return fmt.Errorf("committing rotation: %w", err)
	}
	// Leaves under the old root were capped at now+MaxTTL; RotationOverlap >= MaxTTL covers them.
	retired := append(old.liveRetired(now), retiredRoot{cert: old.active.Root, until: now.Add(c.cfg.RotationOverlap)})
	c.state.Store(&state{active: next, retired: retired})
	return nil
}

// AbortRotation removes a prepared root from the bundle. Safe because nothing was signed
// under it.
func (c *CA) AbortRotation() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.state.Load()
	if old.pending == nil {
		return ErrNoRotation
	}
	ns := *old
	ns.pending = nil
	c.state.Store(&ns)
	return nil
}

// RotationPreparedAt reports when the pending rotation was prepared, if there is one.
func (c *CA) RotationPreparedAt() (time.Time, bool) {
	p := c.state.Load().pending
	if p == nil {
		return time.Time{}, false
	}
	return p.preparedAt, true
}
