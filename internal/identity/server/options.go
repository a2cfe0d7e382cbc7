package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/outrider-sec/outrider/internal/identity/auth"
	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/identity/castore"
	"github.com/outrider-sec/outrider/internal/identity/push"
)

// Defaults of Options.
const (
	DefaultListenAddr     = ":15012"
	DefaultHTTPAddr       = ":15014"
	DefaultServiceAccount = "outrider-identity"
)

// Options configure the identity service. Namespace is required; every other field documents
// its default.
type Options struct {
	// TrustDomain of every identity. Default "cluster.local". It is stored with the CA; a
	// different value later is refused rather than silently re-rooting the mesh.
	TrustDomain string
	// Namespace the service runs in, where its Secrets and ConfigMaps live.
	Namespace string
	// ServiceAccount the service runs as; its serving certificate is
	// spiffe://<trust-domain>/ns/<Namespace>/sa/<ServiceAccount>. Default "outrider-identity".
	ServiceAccount string
	// StateSecret holds the CA state. Default "outrider-identity-ca".
	StateSecret string
	// RootSecret optionally holds an operator-supplied root (castore.RootCertKey, …).
	RootSecret string
	// ProvenanceKeys names a ConfigMap in Namespace whose "<key-id>.pub" entries are the
	// controller's Ed25519 provenance public keys. Empty: no certificate carries provenance.
	ProvenanceKeys string
	// BundleConfigMap is the name of the bootstrap bundle ConfigMap published in every meshed
	// namespace. Default "outrider-trust-bundle".
	BundleConfigMap string
	// Audience of the proxies' projected tokens. Default "outrider-identity".
	Audience string
	// DefaultTTL of workload certificates when a proxy asks for none. Default 24h.
	DefaultTTL time.Duration
	// MaxTTL bounds requested lifetimes. Default 7 days. At least 1 minute.
	MaxTTL time.Duration
	// RotationPropagation is how long a prepared root is trusted before it signs (the commit
	// waits for it). Default 1h.
	RotationPropagation time.Duration
	// RotationOverlap is how long the replaced root stays trusted after the commit. Default
	// MaxTTL + 1h; never less than MaxTTL.
	RotationOverlap time.Duration
	// ListenAddr is the gRPC (TLS) address. Default ":15012".
	ListenAddr string
	// HTTPAddr serves /healthz, /readyz and /metrics in plain HTTP. Default ":15014"; "0"
	// turns it off.
	HTTPAddr string
}

func (o Options) withDefaults() (Options, error) {
	if o.Namespace == "" {
		return o, errors.New("the service's namespace is required")
	}
	if o.TrustDomain == "" {
		o.TrustDomain = ca.DefaultTrustDomain
	}
	if o.ServiceAccount == "" {
		o.ServiceAccount = DefaultServiceAccount
	}
	if o.StateSecret == "" {
		o.StateSecret = castore.DefaultStateSecret
	}
	if o.BundleConfigMap == "" {
		o.BundleConfigMap = push.BundleConfigMap
	}
	if o.Audience == "" {
		o.Audience = auth.DefaultAudience
	}
	if o.ListenAddr == "" {
		o.ListenAddr = DefaultListenAddr
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = DefaultHTTPAddr
	}
	if o.MaxTTL != 0 && o.MaxTTL < ca.MinTTL {
		return o, fmt.Errorf("maximum TTL %s is below %s", o.MaxTTL, ca.MinTTL)
	}
	return o, nil
}

// caConfig is the CA configuration the options describe. The intermediate lives at least
// twice MaxTTL (the CA requires it); 30 days unless MaxTTL is longer.
func (o Options) caConfig(now func() time.Time) ca.Config {
	cfg := ca.Config{
		TrustDomain: o.TrustDomain, DefaultTTL: o.DefaultTTL, MaxTTL: o.MaxTTL,
		BundlePropagation: o.RotationPropagation, RotationOverlap: o.RotationOverlap, Now: now,
	}
	if maxTTL := cmpOr(o.MaxTTL, ca.DefaultMaxTTL); 2*maxTTL > ca.DefaultIntermediateTTL {
		cfg.IntermediateTTL = 2 * maxTTL
	}
	return cfg
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
