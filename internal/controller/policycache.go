package controller

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/tools/cache"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/policy"
)

// PolicyCache compiles every security policy in the cluster into one engine, and recompiles
// when any of them changes. A policy that does not compile is left out and logged (its status,
// written by the leader, says why); the others stay in force.
type PolicyCache struct {
	// Secrets reads the keys of key.secretRef authorities; nil leaves such policies out.
	Secrets policy.SecretReader

	cache   crcache.Cache
	log     *slog.Logger
	engine  atomic.Pointer[policy.Engine]
	changed chan struct{}

	mu sync.Mutex
	// listeners are told when a new engine is in force (the audit re-runs).
	listeners []func()
	// fingerprint identifies what the engine in force was compiled from (policy versions and
	// the Secret keys read), so a rebuild that would change nothing is dropped.
	fingerprint string
	// readsSecrets is set when the last rebuild read a Secret: they are re-read every
	// SecretRefresh, since Secrets are not watched (get only).
	readsSecrets atomic.Bool
}

// SecretRefresh is how often policies that read Secrets are recompiled to see key rotations.
const SecretRefresh = time.Minute

// NewPolicyCache reads policies from c, which must be started by the manager.
func NewPolicyCache(c crcache.Cache, log *slog.Logger) *PolicyCache {
	return &PolicyCache{cache: c, log: log, changed: make(chan struct{}, 1)}
}

// Engine returns the engine in force, nil until the policies were loaded once.
func (p *PolicyCache) Engine() *policy.Engine { return p.engine.Load() }

// Ready is nil once the policies were loaded.
func (p *PolicyCache) Ready() error {
	if p.engine.Load() == nil {
		return errors.New("policies not loaded yet")
	}
	return nil
}

// OnChange registers fn to run after each recompilation.
func (p *PolicyCache) OnChange(fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.listeners = append(p.listeners, fn)
}

// NeedLeaderElection is false: every replica serves webhooks, so every replica needs policies.
func (p *PolicyCache) NeedLeaderElection() bool { return false }

// Start watches the policies and recompiles on every change until ctx ends.
func (p *PolicyCache) Start(ctx context.Context) error {
	poke := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.poke() },
		UpdateFunc: func(any, any) { p.poke() },
		DeleteFunc: func(any) { p.poke() },
	}
	for _, obj := range []client.Object{&v1alpha1.ClusterSecurityPolicy{}, &v1alpha1.SecurityPolicy{}} {
		inf, err := p.cache.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watching %T: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(poke); err != nil {
			return fmt.Errorf("watching %T: %w", obj, err)
		}
	}
	if !p.cache.WaitForCacheSync(ctx) {
		return errors.New("policy cache did not sync")
	}
	p.poke()
	refresh := time.NewTicker(SecretRefresh)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-refresh.C:
			if p.readsSecrets.Load() {
				p.poke()
			}
		case <-p.changed:
			if err := p.rebuild(ctx); err != nil {
				p.log.Error("compiling policies failed", "err", err)
			}
		}
	}
}

func (p *PolicyCache) poke() {
	select {
	case p.changed <- struct{}{}:
	default: // a rebuild is already due; it will see this change too
	}
}

// rebuild compiles every policy, in name order so findings come out in a stable order.
func (p *PolicyCache) rebuild(ctx context.Context) error {
	var csps v1alpha1.ClusterSecurityPolicyList
	if err := p.cache.List(ctx, &csps); err != nil {
		return err
	}
	var sps v1alpha1.SecurityPolicyList
	if err := p.cache.List(ctx, &sps); err != nil {
		return err
	}
	sort.Slice(csps.Items, func(i, j int) bool { return csps.Items[i].Name < csps.Items[j].Name })
	sort.Slice(sps.Items, func(i, j int) bool {
		return sps.Items[i].Namespace+"/"+sps.Items[i].Name < sps.Items[j].Namespace+"/"+sps.Items[j].Name
	})
	var compiled []*policy.Policy
	invalid := 0
	var fp strings.Builder
	var secrets policy.SecretReader
	readSecret := false
	if p.Secrets != nil {
		secrets = func(namespace, name, key string) ([]byte, error) {
			readSecret = true
			data, err := p.Secrets(namespace, name, key)
			sum := sha256.Sum256(data)
			fmt.Fprintf(&fp, "secret %s/%s/%s %x %v;", namespace, name, key, sum[:8], err)
			return data, err
		}
	}
	add := func(namespace, name, version string, spec *v1alpha1.SecurityPolicySpec) {
		fmt.Fprintf(&fp, "policy %s/%s@%s;", namespace, name, version)
		c, err := policy.CompileWith(name, namespace, spec, policy.CompileOptions{Secrets: secrets})
		if err != nil {
			invalid++
			p.log.Error("policy left out: it does not compile", "namespace", namespace, "name", name, "err", err)
			return
		}
		compiled = append(compiled, c)
	}
	for i := range csps.Items {
		add("", csps.Items[i].Name, csps.Items[i].ResourceVersion, &csps.Items[i].Spec)
	}
	for i := range sps.Items {
		add(sps.Items[i].Namespace, sps.Items[i].Name, sps.Items[i].ResourceVersion, &sps.Items[i].Spec)
	}
	p.readsSecrets.Store(readSecret)
	if fp.String() == p.fingerprint && p.engine.Load() != nil {
		return nil // nothing changed (a periodic Secret re-read, an informer resync)
	}
	p.fingerprint = fp.String()
	p.engine.Store(policy.NewEngine(compiled, nil))
	p.mu.Lock()
	listeners := append([]func(){}, p.listeners...)
	p.mu.Unlock()
	p.log.Info("policies in force", "count", len(compiled), "invalid", invalid)
	for _, fn := range listeners {
		fn()
	}
	return nil
}
