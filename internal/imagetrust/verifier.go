package imagetrust

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/imagetrust/registry"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
	"github.com/outrider-sec/outrider/internal/policy"
)

// Config configures a Verifier.
type Config struct {
	// Client talks to registries (timeouts, mirrors, allowed hosts, metrics).
	Client *registry.Client
	// TTL is how long a digest or an image's evidence is reused (default 5m).
	TTL time.Duration
	// NegativeTTL is how long a registry error is reused (default 10s).
	NegativeTTL time.Duration
	// MaxEntries bounds each cache (default 10,000).
	MaxEntries int
	// Metrics counts cache hits and registry calls; nil counts nothing.
	Metrics *registry.Metrics
	// AllowedHosts are the only registries asked (host or host:port, as in image references);
	// empty allows any. An image elsewhere gets an error naming its registry, without a request.
	AllowedHosts []string
}

// Verifier resolves digests and fetches evidence, each at most once per TTL and per image, with
// concurrent requests for the same image sharing one registry round trip: a Deployment of 50
// replicas costs one verification.
type Verifier struct {
	allowed map[string]bool
	client  *registry.Client
	digests *registry.Cache[string]
	trust   *registry.Cache[*policy.ImageTrust]
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg Config) *Verifier {
	if cfg.TTL == 0 {
		cfg.TTL = 5 * time.Minute
	}
	if cfg.NegativeTTL == 0 {
		cfg.NegativeTTL = 10 * time.Second
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = 10000
	}
	var allowed map[string]bool
	for _, h := range cfg.AllowedHosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			if allowed == nil {
				allowed = map[string]bool{}
			}
			allowed[h] = true
		}
	}
	v := &Verifier{
		allowed: allowed,
		client:  cfg.Client,
		digests: registry.NewCache[string]("digest", cfg.TTL, cfg.NegativeTTL, cfg.MaxEntries, cfg.Metrics),
		trust:   registry.NewCache[*policy.ImageTrust]("evidence", cfg.TTL, cfg.NegativeTTL, cfg.MaxEntries, cfg.Metrics),
	}
	// Reading evidence is a few requests in a row (the .sig and .att tags, the referrers, their
	// blobs), each bounded by the client's timeout; a hanging registry fails the first.
	v.digests.SetFillTimeout(cfg.Client.Timeout())
	v.trust.SetFillTimeout(2 * cfg.Client.Timeout())
	return v
}

// Digest returns the digest ref names now ("sha256:…"): its own for a pinned reference, else
// the registry's answer for the tag (cached). kc authenticates (pull secrets); nil is anonymous
// plus the client's own credentials.
func (v *Verifier) Digest(ctx context.Context, ref imageref.Reference, kc authn.Keychain) (string, error) {
	if ref.Pinned() {
		return ref.Digest, nil
	}
	if err := v.mayAsk(ref); err != nil {
		return "", err
	}
	r, err := name.ParseReference(ref.Raw)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref.Raw, err)
	}
	return v.digests.Get(ctx, v.client.CacheKey(r, kc), func(ctx context.Context) (string, error) {
		h, err := v.client.Resolve(ctx, r, kc)
		if err != nil {
			return "", err
		}
		return h.String(), nil
	})
}

// Trust returns what the registry holds about ref's image: its digest and its signatures and
// attestations, unverified (the engine verifies them against each rule). It is never nil; a
// registry failure is in its Err. fresh bypasses the evidence cache: the audit re-reads what
// may have been attached since (a new vulnerability report).
func (v *Verifier) Trust(ctx context.Context, ref imageref.Reference, kc authn.Keychain, fresh bool) *policy.ImageTrust {
	digest, err := v.Digest(ctx, ref, kc)
	if err == nil {
		err = v.mayAsk(ref)
	}
	if err != nil {
		return &policy.ImageTrust{Digest: digest, Err: err}
	}
	d, err := name.NewDigest(ref.Name() + "@" + digest)
	if err != nil {
		return &policy.ImageTrust{Digest: digest, Err: fmt.Errorf("image %q: %w", ref.Raw, err)}
	}
	fetch := func(ctx context.Context) (*policy.ImageTrust, error) {
		ev, err := signature.Fetch(ctx, d, v.client.RemoteOptions(ctx, kc)...)
		if err != nil {
			return nil, v.client.WrapError(d, "reading the signatures and attestations of", kc, err)
		}
		return &policy.ImageTrust{Digest: digest, Evidence: ev}, nil
	}
	var t *policy.ImageTrust
	if fresh {
		t, err = fetch(ctx)
	} else {
		t, err = v.trust.Get(ctx, v.client.CacheKey(d, kc), fetch)
	}
	if err != nil {
		return &policy.ImageTrust{Digest: digest, Err: err}
	}
	return t
}

// mayAsk refuses registries outside AllowedHosts.
func (v *Verifier) mayAsk(ref imageref.Reference) error {
	if v.allowed == nil || v.allowed[ref.Registry] {
		return nil
	}
	return fmt.Errorf("registry %s is not one the controller may contact (--registry-hosts), so image %q cannot be pinned or verified", ref.Registry, ref.Raw)
}

// Gather asks, concurrently, about every image in refs. The result serves the engine as the
// registry part of its ImageData.
func (v *Verifier) Gather(ctx context.Context, refs []imageref.Reference, kc authn.Keychain, fresh bool) Gathered {
	out := make(Gathered, len(refs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := v.Trust(ctx, ref, kc, fresh)
			mu.Lock()
			out[ref.Raw] = t
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// Gathered is what the registry held about a workload's images, by image as written.
type Gathered map[string]*policy.ImageTrust

// Trust returns the image's data, nil when it was not gathered.
func (g Gathered) Trust(ref imageref.Reference) *policy.ImageTrust { return g[ref.Raw] }
