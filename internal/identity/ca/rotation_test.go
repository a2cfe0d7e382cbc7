package ca

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
)

// TestRotationTimeline walks a root rotation A → B by moving the clock.
func TestRotationTimeline(t *testing.T) {
	c, clk := newTestCA(t, nil) // MaxTTL 7d, overlap 7d+1h, propagation 1h
	rootA := c.Root()
	csr := csrDER(t, p256(t), nil)
	week := req(csr)
	week.TTL = 7 * 24 * time.Hour
	leafA := mustIssue(t, c, week)
	bundleA := c.Bundle() // what a proxy that never refreshes holds

	if err := c.CommitRotation(); !errors.Is(err, ErrNoRotation) {
		t.Fatalf("commit without prepare: %v", err)
	}
	if err := c.PrepareRotation(nil); err != nil {
		t.Fatal(err)
	}
	if err := c.PrepareRotation(nil); !errors.Is(err, ErrRotationInProgress) {
		t.Fatalf("second prepare: %v", err)
	}
	bundleAB := c.Bundle()
	if n := len(bundleAB.X509Authorities()); n != 2 {
		t.Fatalf("prepared bundle has %d roots, want 2", n)
	}
	// Prepared but not committed: still signing under A.
	if s := mustIssue(t, c, req(csr)); !c.Root().Equal(rootA) || !chainsTo(t, s, rootA) {
		t.Fatal("leaf issued after prepare does not chain to A")
	}

	clk.Advance(59 * time.Minute)
	if err := c.CommitRotation(); !errors.Is(err, ErrRotationTooEarly) {
		t.Fatalf("commit before propagation: %v", err)
	}
	clk.Advance(time.Minute)
	if err := c.CommitRotation(); err != nil {
		t.Fatal(err)
	}
	rootB := c.Root()
	if rootB.Equal(rootA) {
		t.Fatal("root did not change")
	}
	leafB := mustIssue(t, c, req(csr))
	if !chainsTo(t, leafB, rootB) {
		t.Fatal("new leaf does not chain to B")
	}

	// During the overlap: both verify against the current bundle, and against the bundle a
	// proxy fetched after PrepareRotation. A proxy still on the A-only bundle cannot verify B:
	// that is why the bundle must propagate before the commit.
	now := clk.Now()
	for name, s := range map[string]*SVID{"A-leaf": leafA, "B-leaf": leafB} {
		for bname, b := range map[string]*x509bundle.Bundle{"current": c.Bundle(), "prepared": bundleAB} {
			if _, err := verifyAt(s, b, now); err != nil {
				t.Errorf("%s against %s bundle during overlap: %v", name, bname, err)
			}
		}
	}
	if _, err := verifyAt(leafB, bundleA, now); err == nil {
		t.Error("B-leaf verified against the A-only bundle")
	}

	checkOverlapEnds(t, c, clk, leafA, leafB)
}

// checkOverlapEnds moves to the end of the overlap: just before, A is still trusted; just
// after, it is gone. The A-leaf is checked at a time inside its own validity so the failure is
// the bundle's doing.
func checkOverlapEnds(t *testing.T, c *CA, clk *fakeClock, leafA, leafB *SVID) {
	t.Helper()
	now := clk.Now()
	rootB := c.Root()
	clk.Advance(7*24*time.Hour + time.Hour - time.Second)
	if n := len(c.Bundle().X509Authorities()); n != 2 {
		t.Errorf("bundle before overlap end has %d roots, want 2", n)
	}
	clk.Advance(time.Second)
	after := c.Bundle()
	if got := after.X509Authorities(); len(got) != 1 || !got[0].Equal(rootB) {
		t.Fatalf("bundle after overlap = %d roots, want B alone", len(got))
	}
	if _, err := verifyAt(leafA, after, leafA.Leaf().NotBefore.Add(time.Hour)); err == nil {
		t.Error("A-leaf verified after its root left the bundle")
	}
	if _, err := verifyAt(leafB, after, now); err != nil {
		t.Errorf("B-leaf after overlap: %v", err)
	}
}

func TestAbortRotation(t *testing.T) {
	c, _ := newTestCA(t, nil)
	if err := c.AbortRotation(); !errors.Is(err, ErrNoRotation) {
		t.Fatal(err)
	}
	if err := c.PrepareRotation(nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.RotationPreparedAt(); !ok {
		t.Fatal("no pending rotation reported")
	}
	if err := c.AbortRotation(); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Bundle().X509Authorities()); n != 1 {
		t.Errorf("bundle after abort has %d roots", n)
	}
}

func TestPrepareRotationRefusesBadRoots(t *testing.T) {
	c, _ := newTestCA(t, nil)
	other, _ := newTestCA(t, nil)
	tests := map[string]*Authority{
		"active root again":       {Root: c.Root(), RootKey: nil},
		"no key, no intermediate": {Root: other.Root()},
		"leaf as root":            {Root: mustIssue(t, c, req(csrDER(t, p256(t), nil))).Leaf(), RootKey: p256(t)},
		"key mismatch":            {Root: other.Root(), RootKey: p256(t)},
		"nil root":                {},
	}
	for name, a := range tests {
		if err := c.PrepareRotation(a); err == nil {
			t.Errorf("%s: accepted", name)
			_ = c.AbortRotation()
		}
	}
}

// TestColdRootRotation: the new root's key never reaches the CA; its intermediate is signed
// offline and handed over with it.
func TestColdRootRotation(t *testing.T) {
	c, clk := newTestCA(t, nil)
	offline, _ := newTestCA(t, nil)
	st := offline.state.Load().active
	if err := c.PrepareRotation(&Authority{Root: st.Root, Intermediate: st.Intermediate, IntermediateKey: st.IntermediateKey}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := c.CommitRotation(); err != nil {
		t.Fatal(err)
	}
	s := mustIssue(t, c, req(csrDER(t, p256(t), nil)))
	if !chainsTo(t, s, st.Root) || !s.Certificates[1].Equal(st.Intermediate) {
		t.Error("cold-root rotation did not install the offline intermediate")
	}
	if err := c.RenewIntermediate(); !errors.Is(err, ErrRootKeyUnavailable) {
		t.Errorf("renewal without root key: %v", err)
	}
}

// chainsTo reports whether s verifies with root as the only trust anchor.
func chainsTo(t *testing.T, s *SVID, root *x509.Certificate) bool {
	t.Helper()
	b := x509bundle.FromX509Authorities(s.ID.TrustDomain(), []*x509.Certificate{root})
	_, err := verifyAt(s, b, s.Leaf().NotBefore.Add(time.Minute))
	return err == nil
}

func TestNextBundleChangeFollowsTheOverlap(t *testing.T) {
	c, clk := newTestCA(t, func(cfg *Config) { cfg.BundlePropagation = time.Minute })
	if _, ok := c.NextBundleChange(); ok {
		t.Fatal("a CA without a replaced root reports a bundle change")
	}
	if err := c.PrepareRotation(nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := c.CommitRotation(); err != nil {
		t.Fatal(err)
	}
	next, ok := c.NextBundleChange()
	if want := clk.Now().Add(c.cfg.RotationOverlap); !ok || !next.Equal(want) {
		t.Fatalf("NextBundleChange = %v, %v; want %v", next, ok, want)
	}
	if n := len(c.Bundle().X509Authorities()); n != 2 {
		t.Fatalf("bundle has %d roots during the overlap, want 2", n)
	}
	clk.Advance(c.cfg.RotationOverlap)
	if _, ok := c.NextBundleChange(); ok {
		t.Error("a bundle change is reported after the overlap ended")
	}
	if got := c.BundlePropagation(); got != time.Minute {
		t.Errorf("BundlePropagation = %v", got)
	}
}
