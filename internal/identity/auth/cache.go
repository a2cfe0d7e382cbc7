package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// maxCacheEntries bounds the review cache. Each proxy holds one token at a time and renews
// rarely, so this is far above what a cluster needs; past it the cache is emptied, which costs
// only extra TokenReviews.
const maxCacheEntries = 10000

// reviewCache remembers successful TokenReviews by the token's SHA-256, never the token itself.
type reviewCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]cached
}

type cached struct {
	claims claims
	until  time.Time
}

func newReviewCache() *reviewCache {
	return &reviewCache{entries: map[[sha256.Size]byte]cached{}}
}

func (c *reviewCache) get(token string, now time.Time) (claims, bool) {
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return claims{}, false
	}
	if !now.Before(e.until) {
		delete(c.entries, key)
		return claims{}, false
	}
	return e.claims, true
}

func (c *reviewCache) put(token string, cl claims, until time.Time, now time.Time) {
	if !now.Before(until) {
		return
	}
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCacheEntries {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCacheEntries {
			c.entries = map[[sha256.Size]byte]cached{}
		}
	}
	c.entries[key] = cached{claims: cl, until: until}
}
