package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
)

// Fifty admission requests for the same image at once: one fill, one HEAD at the registry.
func TestCacheCoalescesConcurrentResolves(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.ref(t, "app:v1")
	want := reg.push(t, ref)
	reg.resetCounts()
	reg.gate = make(chan struct{})

	m := NewMetrics(nil)
	client := New(Options{Timeout: time.Minute, Metrics: m})
	cache := NewCache[v1.Hash]("digests", time.Hour, 10*time.Second, 100, m)
	cache.SetFillTimeout(time.Minute)
	var fills atomic.Int64
	fill := func(ctx context.Context) (v1.Hash, error) {
		fills.Add(1)
		return client.Resolve(ctx, ref, nil)
	}

	const n = 50
	var ready, done sync.WaitGroup
	ready.Add(n)
	done.Add(n)
	errs := make(chan error, n)
	for range n {
		go func() {
			defer done.Done()
			ready.Done()
			got, err := cache.Get(context.Background(), client.CacheKey(ref, nil), fill)
			if err == nil && got != want {
				err = fmt.Errorf("got %s, want %s", got, want)
			}
			errs <- err
		}()
	}
	ready.Wait()
	waitFor(t, "the registry to receive the HEAD", func() bool { return reg.manifestReads.Load() >= 1 })
	close(reg.gate)
	done.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if f := fills.Load(); f != 1 {
		t.Errorf("fills = %d, want 1", f)
	}
	if r := reg.manifestReads.Load(); r != 1 {
		t.Errorf("manifest requests at the registry = %d, want 1", r)
	}
	miss, hit, coalesced := m.CacheCount("digests", CacheMiss), m.CacheCount("digests", CacheHit), m.CacheCount("digests", CacheCoalesced)
	if miss != 1 || hit+coalesced != n-1 {
		t.Errorf("cache counts miss=%v hit=%v coalesced=%v, want 1 miss and %d others", miss, hit, coalesced, n-1)
	}
}

// The first caller gives up while the fill runs; the fill goes on for the others and its
// result is cached.
func TestCacheFillOutlivesCancelledCaller(t *testing.T) {
	cache := NewCache[string]("t", time.Hour, time.Second, 10, nil)
	release := make(chan struct{})
	started := make(chan struct{})
	var fills atomic.Int64
	fill := func(ctx context.Context) (string, error) {
		fills.Add(1)
		close(started)
		select {
		case <-release:
			return "value", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}

	ctx1, cancel1 := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := cache.Get(ctx1, "k", fill)
		first <- err
	}()
	<-started
	second := make(chan string, 1)
	go func() {
		v, err := cache.Get(context.Background(), "k", fill)
		if err != nil {
			v = "error: " + err.Error()
		}
		second <- v
	}()
	cancel1()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller got %v, want context.Canceled", err)
	}
	close(release)
	if v := <-second; v != "value" {
		t.Errorf("waiting caller got %q, want the fill's value", v)
	}
	if v, err := cache.Get(context.Background(), "k", fill); err != nil || v != "value" {
		t.Errorf("after the fill: %q, %v; want the cached value", v, err)
	}
	if f := fills.Load(); f != 1 {
		t.Errorf("fills = %d, want 1", f)
	}
}

func TestCacheNegativeEntryExpires(t *testing.T) {
	clock := newFakeClock()
	m := NewMetrics(nil)
	cache := NewCache[string]("neg", time.Hour, 10*time.Second, 10, m)
	cache.SetClock(clock.Now)
	var fills atomic.Int64
	boom := errors.New("registry down")
	fail := func(context.Context) (string, error) { fills.Add(1); return "", boom }

	for range 3 {
		if _, err := cache.Get(context.Background(), "k", fail); !errors.Is(err, boom) {
			t.Fatalf("got %v, want the fill's error", err)
		}
	}
	if f := fills.Load(); f != 1 {
		t.Errorf("fills within negativeTTL = %d, want 1", f)
	}
	if n := m.CacheCount("neg", CacheNegativeHit); n != 2 {
		t.Errorf("negative hits = %v, want 2", n)
	}
	clock.Advance(10 * time.Second)
	if _, err := cache.Get(context.Background(), "k", fail); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if f := fills.Load(); f != 2 {
		t.Errorf("fills after negativeTTL = %d, want 2", f)
	}
}

func TestCacheDoesNotCacheCancellation(t *testing.T) {
	cache := NewCache[string]("t", time.Hour, time.Hour, 10, nil)
	var fills atomic.Int64
	fill := func(context.Context) (string, error) { fills.Add(1); return "", context.Canceled }
	for range 2 {
		_, _ = cache.Get(context.Background(), "k", fill)
	}
	if f := fills.Load(); f != 2 {
		t.Errorf("fills = %d, want 2: a cancellation is not a result", f)
	}
	if n := cache.Len(); n != 0 {
		t.Errorf("entries = %d, want 0", n)
	}
}

func TestCachePositiveEntryExpires(t *testing.T) {
	clock := newFakeClock()
	cache := NewCache[int]("t", time.Minute, time.Second, 10, nil)
	cache.SetClock(clock.Now)
	var fills atomic.Int64
	fill := func(context.Context) (int, error) { return int(fills.Add(1)), nil }
	get := func() int {
		v, err := cache.Get(context.Background(), "k", fill)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := get(); v != 1 {
		t.Fatalf("first = %d", v)
	}
	clock.Advance(time.Minute - time.Nanosecond)
	if v := get(); v != 1 {
		t.Errorf("before ttl = %d, want the cached 1", v)
	}
	clock.Advance(time.Nanosecond)
	if v := get(); v != 2 {
		t.Errorf("at ttl = %d, want a new fill", v)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	m := NewMetrics(nil)
	cache := NewCache[string]("lru", time.Hour, time.Hour, 2, m)
	filled := map[string]int{}
	var mu sync.Mutex
	get := func(key string) {
		_, err := cache.Get(context.Background(), key, func(context.Context) (string, error) {
			mu.Lock()
			filled[key]++
			mu.Unlock()
			return key, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	get("a")
	get("b")
	get("a") // a is now more recent than b
	get("c") // evicts b
	if n := cache.Len(); n != 2 {
		t.Errorf("entries = %d, want 2", n)
	}
	get("a") // still cached
	get("b") // filled again, evicts c
	get("c") // filled again
	want := map[string]int{"a": 1, "b": 2, "c": 2}
	for k, n := range want {
		if filled[k] != n {
			t.Errorf("fills of %s = %d, want %d", k, filled[k], n)
		}
	}
	if hits := m.CacheCount("lru", CacheHit); hits != 2 {
		t.Errorf("hits = %v, want 2", hits)
	}
}

// A tag re-pushed after the entry expired resolves to the new digest; before, the cached one.
func TestCacheRepushAfterTTL(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.ref(t, "app:v1")
	first := reg.push(t, ref)
	client := New(Options{})
	clock := newFakeClock()
	cache := NewCache[v1.Hash]("digests", 5*time.Minute, 10*time.Second, 100, nil)
	cache.SetClock(clock.Now)
	resolve := func() v1.Hash {
		d, err := cache.Get(context.Background(), client.CacheKey(ref, nil), func(ctx context.Context) (v1.Hash, error) {
			return client.Resolve(ctx, ref, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := resolve(); d != first {
		t.Fatalf("first resolve = %s, want %s", d, first)
	}
	second := reg.push(t, ref)
	if d := resolve(); d != first {
		t.Errorf("within ttl = %s, want the cached %s", d, first)
	}
	clock.Advance(5 * time.Minute)
	if d := resolve(); d != second {
		t.Errorf("after ttl = %s, want the re-pushed %s", d, second)
	}
}

// Entries about access are not shared between different credentials.
func TestCacheKeySeparatesCredentials(t *testing.T) {
	ref := mustRef(t, "registry.example.com/team/app:v1")
	c := New(Options{})
	kc := func(host, user string) authn.Keychain {
		k, err := PullSecretKeychain([]corev1.Secret{dockerConfigSecret("ns", "s",
			fmt.Sprintf(`{"auths":{%q:{"username":%q,"password":"x"}}}`, host, user))})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	anon := c.CacheKey(ref, nil)
	alice := c.CacheKey(ref, kc("registry.example.com", "alice"))
	bob := c.CacheKey(ref, kc("registry.example.com", "bob"))
	if anon == alice || alice == bob || anon == bob {
		t.Errorf("keys not distinct: %q %q %q", anon, alice, bob)
	}
	if again := c.CacheKey(ref, kc("registry.example.com", "alice")); again != alice {
		t.Errorf("same credentials, different keys: %q %q", alice, again)
	}
	if other := c.CacheKey(ref, kc("other.example.com", "alice")); other != anon {
		t.Errorf("a secret for another registry changed the key: %q, want %q", other, anon)
	}
}

// waitFor polls cond until it holds; the deadline is generous and only stops a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
