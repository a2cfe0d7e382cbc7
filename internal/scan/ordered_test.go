package scan

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestOrderedKeepsOrderAndBoundsTheWindow(t *testing.T) {
	const n, workers = 200, 3
	var inFlight, maxInFlight atomic.Int64
	var got []int
	err := ordered(context.Background(), n, workers, func(i int) int {
		cur := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if cur <= m || maxInFlight.CompareAndSwap(m, cur) {
				break
			}
		}
		if i%7 == 0 {
			time.Sleep(time.Millisecond) // some inputs are slow
		}
		return i
	}, func(i int) error {
		inFlight.Add(-1)
		got = append(got, i)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("emitted %d at position %d", v, i)
		}
	}
	if len(got) != n {
		t.Fatalf("emitted %d of %d", len(got), n)
	}
	if m := maxInFlight.Load(); m > workers*windowPerWorker {
		t.Errorf("%d results were held at once, the window is %d", m, workers*windowPerWorker)
	}
}

func TestOrderedStopsEmittingAfterAnError(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	err := ordered(context.Background(), 50, 2, func(i int) int { return i }, func(i int) error {
		calls++
		if i == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || calls != 4 {
		t.Errorf("err=%v after %d emits", err, calls)
	}
}
