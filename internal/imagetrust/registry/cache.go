package registry

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Cache remembers the results of slow lookups (a tag's digest, a signature verification) for
// a while, and makes concurrent lookups of a missing key share one fill:
//
//   - A value lives ttl; an error lives negativeTTL (short: a registry that was down a moment
//     ago is asked again soon), except a cancellation, which is never cached.
//   - The fill runs detached from the callers' cancellation, so one admission request giving
//     up does not fail the others waiting for the same key; it keeps their context's values
//     and is bounded by the fill timeout (SetFillTimeout; default DefaultTimeout). A caller
//     whose context ends stops waiting and gets its context's error.
//   - At most maxEntries entries are kept; the least recently used goes first.
//
// Lookups are counted in outrider_imagetrust_cache_requests_total{cache=name}: hit, miss
// (this lookup ran the fill), coalesced (it waited for another lookup's fill) and negative_hit.
type Cache[V any] struct {
	name        string
	ttl         time.Duration
	negativeTTL time.Duration
	maxEntries  int
	metrics     *Metrics
	fillTimeout time.Duration
	now         func() time.Time

	group singleflight.Group

	mu      sync.Mutex
	entries map[string]*list.Element // of *cacheEntry[V]
	lru     list.List                // front: most recently used
}

type cacheEntry[V any] struct {
	key     string
	value   V
	err     error
	expires time.Time
}

// NewCache returns an empty cache. maxEntries < 1 means 1.
func NewCache[V any](name string, ttl, negativeTTL time.Duration, maxEntries int, m *Metrics) *Cache[V] {
	return &Cache[V]{
		name:        name,
		ttl:         ttl,
		negativeTTL: negativeTTL,
		maxEntries:  max(maxEntries, 1),
		metrics:     m,
		fillTimeout: DefaultTimeout,
		now:         time.Now,
		entries:     map[string]*list.Element{},
	}
}

// SetClock replaces the clock that ages entries (tests move it instead of sleeping). Call it
// before the first Get.
func (c *Cache[V]) SetClock(now func() time.Time) { c.now = now }

// SetFillTimeout bounds each fill (the client's timeout, or more when a fill makes several
// registry calls in sequence). Call it before the first Get.
func (c *Cache[V]) SetFillTimeout(d time.Duration) { c.fillTimeout = d }

// Len is the number of entries held, expired ones included until they are looked up or evicted.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Get returns the cached result for key, or runs fill (once for all concurrent callers of a
// missing key) and caches its result.
func (c *Cache[V]) Get(ctx context.Context, key string, fill func(context.Context) (V, error)) (V, error) {
	if e, ok := c.lookup(key); ok {
		if e.err != nil {
			c.metrics.observeCache(c.name, CacheNegativeHit)
		} else {
			c.metrics.observeCache(c.name, CacheHit)
		}
		return e.value, e.err
	}

	var leader atomic.Bool
	ch := c.group.DoChan(key, func() (any, error) {
		leader.Store(true)
		// A fill that finished between our lookup and this flight already stored the key.
		if e, ok := c.lookup(key); ok {
			return e, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.fillTimeout)
		defer cancel()
		v, err := fill(fctx)
		e := &cacheEntry[V]{key: key, value: v, err: err}
		c.store(e)
		return e, nil
	})
	var zero V
	select {
	case r := <-ch:
		if leader.Load() {
			c.metrics.observeCache(c.name, CacheMiss)
		} else {
			c.metrics.observeCache(c.name, CacheCoalesced)
		}
		e := r.Val.(*cacheEntry[V])
		return e.value, e.err
	case <-ctx.Done():
		if leader.Load() {
			c.metrics.observeCache(c.name, CacheMiss)
		} else {
			c.metrics.observeCache(c.name, CacheCoalesced)
		}
		return zero, ctx.Err()
	}
}

// lookup returns the live entry for key and marks it used; an expired entry is dropped.
func (c *Cache[V]) lookup(key string) (*cacheEntry[V], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry[V])
	if !c.now().Before(e.expires) {
		c.lru.Remove(el)
		delete(c.entries, key)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e, true
}

// store caches e for its lifetime and evicts the least recently used beyond the bound.
// Cancellations are not results and are not stored.
func (c *Cache[V]) store(e *cacheEntry[V]) {
	ttl := c.ttl
	if e.err != nil {
		if errors.Is(e.err, context.Canceled) {
			return
		}
		ttl = c.negativeTTL
	}
	if ttl <= 0 {
		return
	}
	e.expires = c.now().Add(ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[e.key]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.entries[e.key] = c.lru.PushFront(e)
	for c.lru.Len() > c.maxEntries {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry[V]).key)
	}
}
