package ca

import (
	"sync"
	"testing"
	"time"
)

// TestConcurrentIssue runs issuance beside renewal, rotation and bundle reads; run with -race.
// Every leaf must verify against the bundle of its moment.
func TestConcurrentIssue(t *testing.T) {
	c, clk := newTestCA(t, func(cfg *Config) { cfg.BundlePropagation = time.Nanosecond })
	csr := csrDER(t, p256(t), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 20; i++ {
				s, err := c.Issue(req(csr))
				if err != nil {
					errs <- err
					return
				}
				if _, err := verifyAt(s, c.Bundle(), clk.Now()); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		for i := 0; i < 5; i++ {
			if err := c.RenewIntermediate(); err != nil {
				errs <- err
			}
			if err := c.PrepareRotation(nil); err != nil {
				errs <- err
			}
			clk.Advance(time.Millisecond)
			if err := c.CommitRotation(); err != nil {
				errs <- err
			}
			if _, err := c.Marshal(); err != nil {
				errs <- err
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
