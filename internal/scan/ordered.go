package scan

import (
	"context"
	"sync"
	"sync/atomic"
)

// windowPerWorker bounds how many finished inputs may wait for their turn to be emitted, per
// worker: enough to keep the workers busy behind a slow input, small enough that memory stays
// flat.
const windowPerWorker = 4

// ordered runs work(0..n-1) on up to workers goroutines and calls emit with the results in
// index order, from the calling goroutine. At most workers*windowPerWorker results are in
// flight or waiting. After emit fails, the remaining results are drained and dropped, and its
// first error is returned.
func ordered[T any](ctx context.Context, n, workers int, work func(i int) T, emit func(T) error) error {
	if n == 0 {
		return nil
	}
	workers = max(1, min(workers, n))
	slots := make([]chan T, n)
	for i := range slots {
		slots[i] = make(chan T, 1)
	}
	tokens := make(chan struct{}, workers*windowPerWorker)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				tokens <- struct{}{}
				i := int(next.Add(1) - 1)
				if i >= n {
					<-tokens
					return
				}
				slots[i] <- work(i)
			}
		}()
	}
	var firstErr error
	for i := 0; i < n; i++ {
		r := <-slots[i]
		if firstErr == nil && ctx.Err() == nil {
			firstErr = emit(r)
		}
		<-tokens // only now is the result gone: the window counts it until emitted
	}
	wg.Wait()
	return firstErr
}
