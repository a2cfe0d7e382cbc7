package push

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	corev1 "k8s.io/api/core/v1"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/mesh/accesspolicy"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// Source is the hub's view of the cluster (informer caches in production).
type Source interface {
	Namespaces() []*corev1.Namespace
	Pods() []*corev1.Pod
	// AccessPolicies returns the cluster's AccessPolicies.
	AccessPolicies() []v1alpha1.AccessPolicy
}

// PolicyCompiler compiles every meshed workload's policy; accesspolicy.Compile in production.
type PolicyCompiler func(accesspolicy.World, []v1alpha1.AccessPolicy) (*accesspolicy.Result, error)

// Config configures a Hub. TrustDomain, Source and Bundle are required.
type Config struct {
	TrustDomain spiffeid.TrustDomain
	Source      Source
	// Bundle returns the trust bundle to distribute now.
	Bundle func() *x509bundle.Bundle
	// Compile defaults to accesspolicy.Compile.
	Compile PolicyCompiler
	// Publish, when set, is called after every computation with the namespaces that need the
	// bootstrap bundle and the bundle (Publisher.Sync).
	Publish func(ctx context.Context, namespaces []string, b *x509bundle.Bundle)
	// Debounce is how long the hub waits after a change for more changes before it computes.
	// Default 50ms.
	Debounce time.Duration
	// Log receives the hub's logs. Default: discard.
	Log *slog.Logger
}

// Hub recomputes the mesh's state on every change and queues each subscriber's changes.
type Hub struct {
	cfg  Config
	kick chan struct{}

	computeMu sync.Mutex // one computation at a time; guards the fields below and Subscription.sent*
	result    *accesspolicy.Result
	podUIDs   map[accesspolicy.WorkloadKey]string // the pod cache at the last computation
	endpoints []Endpoint
	epGen     uint64
	epHash    [32]byte

	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// NewHub returns a hub; call Run to start computing.
func NewHub(cfg Config) (*Hub, error) {
	if cfg.TrustDomain.IsZero() || cfg.Source == nil || cfg.Bundle == nil {
		return nil, fmt.Errorf("push: TrustDomain, Source and Bundle are required")
	}
	if cfg.Compile == nil {
		cfg.Compile = accesspolicy.Compile
	}
	if cfg.Debounce == 0 {
		cfg.Debounce = 50 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Hub{cfg: cfg, kick: make(chan struct{}, 1), subs: map[*Subscription]struct{}{}}, nil
}

// Changed tells the hub that something it reads changed. It never blocks.
func (h *Hub) Changed() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// Run computes after every change until ctx ends, then ends every subscription.
func (h *Hub) Run(ctx context.Context) {
	defer func() { h.closeAll(ctx.Err()) }()
	h.compute(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		}
		// Coalesce a burst (a Deployment rolling, a policy and its pods applied together).
		select {
		case <-ctx.Done():
			return
		case <-time.After(h.cfg.Debounce):
		}
		h.compute(ctx)
	}
}

// Subscribe registers the proxy of pod (as authenticated) and queues its full state.
func (h *Hub) Subscribe(ctx context.Context, pod *corev1.Pod) *Subscription {
	s := &Subscription{
		key:    accesspolicy.WorkloadKey{Namespace: pod.Namespace, Name: pod.Name},
		pod:    pod,
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
		hub:    h,
	}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()

	h.computeMu.Lock()
	defer h.computeMu.Unlock()
	s.cached = h.podUIDs[s.key] == string(pod.UID)
	if h.result == nil || h.result.Policies[s.key] == nil {
		h.computeLocked(ctx) // the pod is new to the cache: compute with it included
		return s
	}
	h.queueLocked(s, h.result, bundleHash(h.cfg.Bundle()), h.cfg.Bundle(), true)
	return s
}

func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// Subscribers returns how many proxies are subscribed.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *Hub) snapshot() []*Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Subscription, 0, len(h.subs))
	for s := range h.subs {
		out = append(out, s)
	}
	return out
}

func (h *Hub) closeAll(reason error) {
	for _, s := range h.snapshot() {
		s.end(reason)
		h.remove(s)
	}
}

func (h *Hub) compute(ctx context.Context) {
	h.computeMu.Lock()
	defer h.computeMu.Unlock()
	h.computeLocked(ctx)
}

// computeLocked rebuilds the world, recompiles, and queues what changed for every subscriber.
func (h *Hub) computeLocked(ctx context.Context) {
	start := time.Now()
	subs := h.snapshot()
	pods := h.cfg.Source.Pods()
	cachedUID := make(map[accesspolicy.WorkloadKey]string, len(pods))
	for _, p := range pods {
		cachedUID[accesspolicy.WorkloadKey{Namespace: p.Namespace, Name: p.Name}] = string(p.UID)
	}
	var extra []*corev1.Pod
	for _, s := range subs {
		switch uid, ok := cachedUID[s.key]; {
		case ok && uid == string(s.pod.UID):
			s.cached = true
		case s.cached:
			h.endSub(s, fmt.Errorf("%w: %s was deleted or replaced", ErrPodGone, s.key))
		default:
			extra = append(extra, s.pod) // not in the cache yet, or the cache still has its predecessor
		}
	}
	world, eps := buildWorld(h.cfg.TrustDomain, h.cfg.Source.Namespaces(), pods, extra)
	res, err := h.cfg.Compile(world, h.cfg.Source.AccessPolicies())
	if err != nil {
		h.cfg.Log.Error("compiling access policies failed; proxies keep their policies", "err", err.Error())
		return
	}
	h.result, h.podUIDs = res, cachedUID
	if hash := endpointsHash(eps); hash != h.epHash || h.epGen == 0 {
		h.endpoints, h.epHash = eps, hash
		h.epGen++
	}
	bundle := h.cfg.Bundle()
	bh := bundleHash(bundle)
	for _, s := range h.snapshot() {
		h.queueLocked(s, res, bh, bundle, false)
	}
	if h.cfg.Publish != nil {
		h.cfg.Publish(ctx, meshedNamespaces(world), bundle)
	}
	h.cfg.Log.Debug("mesh state computed", "workloads", len(world.Workloads), "endpoints", len(eps), "subscribers", len(subs), "took", time.Since(start).String())
}

func (h *Hub) endSub(s *Subscription, reason error) {
	s.end(reason)
	h.remove(s)
}

// queueLocked queues what differs from what s was last sent (everything when first).
func (h *Hub) queueLocked(s *Subscription, res *accesspolicy.Result, bh [32]byte, bundle *x509bundle.Bundle, first bool) {
	var u Update
	if first || bh != s.sentBundle {
		u.Bundle, s.sentBundle = bundle, bh
	}
	pol := res.Policies[s.key]
	if pol == nil {
		// Not a meshed workload of the world (its namespace label was removed, say): it may
		// keep its identity until the token or pod goes, but it accepts nothing.
		pol = &authz.Policy{DefaultDeny: true}
	}
	if js, err := json.Marshal(pol); err != nil {
		h.cfg.Log.Error("encoding policy", "workload", s.key.String(), "err", err.Error())
	} else if first || !slices.Equal(js, s.sentPolicy) {
		u.Policy, s.sentPolicy = js, js
	}
	if first || s.sentEndpoints != h.epGen {
		u.Endpoints, u.HasEndpoints, s.sentEndpoints = h.endpoints, true, h.epGen
	}
	s.queue(u)
}

func bundleHash(b *x509bundle.Bundle) [32]byte {
	h := sha256.New()
	if b != nil {
		h.Write([]byte(b.TrustDomain().Name()))
		for _, r := range b.X509Authorities() {
			h.Write(r.Raw)
		}
	}
	return [32]byte(h.Sum(nil))
}

func endpointsHash(eps []Endpoint) [32]byte {
	h := sha256.New()
	for _, e := range eps {
		b, _ := e.IP.MarshalBinary()
		h.Write(b)
		h.Write([]byte(e.ID.String()))
		h.Write([]byte{0})
	}
	return [32]byte(h.Sum(nil))
}
