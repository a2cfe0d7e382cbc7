package ca

import (
	"crypto"
	"errors"
	"testing"
	"time"
)

func TestRenewIntermediateAtHalfLife(t *testing.T) {
	c, clk := newTestCA(t, nil) // intermediate 30d (+1m backdating)
	first := c.Intermediate()
	leaf := mustIssue(t, c, req(csrDER(t, p256(t), nil)))
	due := c.IntermediateRenewalDue()
	if want := first.NotBefore.Add(first.NotAfter.Sub(first.NotBefore) / 2); !due.Equal(want) {
		t.Fatalf("due %s, want %s", due, want)
	}

	clk.Advance(due.Sub(clk.Now()) - time.Second)
	if renewed, err := c.RenewIntermediateIfDue(); renewed || err != nil {
		t.Fatalf("before half-life: renewed=%v err=%v", renewed, err)
	}
	clk.Advance(time.Second)
	if renewed, err := c.RenewIntermediateIfDue(); !renewed || err != nil {
		t.Fatalf("at half-life: renewed=%v err=%v", renewed, err)
	}
	second := c.Intermediate()
	if second.Equal(first) || !second.NotAfter.Equal(clk.Now().Add(DefaultIntermediateTTL)) {
		t.Fatalf("renewed intermediate NotAfter %s", second.NotAfter)
	}
	if keyMatches(second.PublicKey, c.state.Load().active.IntermediateKey) == keyMatches(first.PublicKey, c.state.Load().active.IntermediateKey) {
		t.Error("renewal reused the intermediate key")
	}
	// Old leaves keep verifying (same root); new ones carry the new intermediate.
	if _, err := verifyAt(leaf, c.Bundle(), clk.Now().Add(-14*24*time.Hour)); err != nil {
		t.Errorf("old leaf: %v", err)
	}
	s := mustIssue(t, c, req(csrDER(t, p256(t), nil)))
	if !s.Certificates[1].Equal(second) {
		t.Error("new leaf not signed by the renewed intermediate")
	}
	if _, err := verifyAt(s, c.Bundle(), clk.Now()); err != nil {
		t.Errorf("new leaf: %v", err)
	}
}

func TestFailedRenewalKeepsState(t *testing.T) {
	c, clk := newTestCA(t, nil)
	before := c.state.Load()
	c.newKey = func() (crypto.Signer, error) { return nil, errors.New("entropy exhausted") }
	clk.Advance(20 * 24 * time.Hour)
	if renewed, err := c.RenewIntermediateIfDue(); renewed || err == nil {
		t.Fatalf("renewed=%v err=%v, want failure", renewed, err)
	}
	if c.state.Load() != before {
		t.Fatal("failed renewal changed the state")
	}
	if _, err := c.Issue(req(csrDER(t, p256(t), nil))); err != nil {
		t.Errorf("issuing after a failed renewal: %v", err)
	}
	// A failed commit of a rotation keeps the old state too.
	c.newKey = generateKey
	if err := c.PrepareRotation(nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	c.newKey = func() (crypto.Signer, error) { return nil, errors.New("hsm offline") }
	prepared := c.state.Load()
	if err := c.CommitRotation(); err == nil || c.state.Load() != prepared {
		t.Fatalf("failed commit: err=%v, state changed=%v", err, c.state.Load() != prepared)
	}
}

func TestReplaceIntermediate(t *testing.T) {
	c, clk := newTestCA(t, nil)
	st := c.state.Load().active
	// The operator signs an intermediate offline with the root key...
	key := p256(t)
	inter, err := newIntermediate(c.td, st.Root, st.RootKey, key, clk.Now(), 40*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// ...and the running CA holds no root key.
	cold, err := New(Config{Now: clk.Now, Authority: &Authority{Root: st.Root, Intermediate: st.Intermediate, IntermediateKey: st.IntermediateKey}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cold.RenewIntermediate(); !errors.Is(err, ErrRootKeyUnavailable) {
		t.Fatalf("renew without root key: %v", err)
	}
	if err := cold.ReplaceIntermediate(inter, p256(t)); !errors.Is(err, ErrInvalidAuthority) {
		t.Errorf("mismatched key: %v", err)
	}
	other, _ := newTestCA(t, nil)
	if err := cold.ReplaceIntermediate(other.Intermediate(), other.state.Load().active.IntermediateKey); !errors.Is(err, ErrInvalidAuthority) {
		t.Errorf("foreign intermediate: %v", err)
	}
	if err := cold.ReplaceIntermediate(inter, key); err != nil {
		t.Fatal(err)
	}
	if !cold.Intermediate().Equal(inter) {
		t.Error("intermediate not replaced")
	}
}
