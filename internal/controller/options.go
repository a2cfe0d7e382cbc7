package controller

import (
	"fmt"
	"time"

	"github.com/outrider-sec/outrider/internal/policy"
)

// Options configure the controller. Zero values take the documented defaults; the Helm chart
// sets every one of them explicitly.
type Options struct {
	// Namespace is the controller's own namespace (the Secret, leases and Events live there).
	Namespace string
	// WebhookPort serves the admission webhooks over TLS (default 9443).
	WebhookPort int
	// MetricsAddr serves Prometheus metrics (default ":8080"; "0" turns it off).
	MetricsAddr string
	// HealthAddr serves /healthz and /readyz (default ":8081").
	HealthAddr string
	// CertSecret holds the serving certificate (default "outrider-webhook-cert").
	CertSecret string
	// ServiceName is the webhook Service the certificate is for (default "outrider-webhook").
	ServiceName string
	// ValidatingWebhook and MutatingWebhook name the configurations whose caBundle is kept.
	ValidatingWebhook, MutatingWebhook string
	// FailOn is the lowest severity an Enforce finding refuses at (default high), as scan's --fail-on.
	FailOn policy.Severity
	// ExecExemptGroups may exec, attach and port-forward into any pod.
	ExecExemptGroups []string
	// AuditInterval is how often running workloads are re-evaluated (default 5m); a policy change
	// triggers an audit at once.
	AuditInterval time.Duration
	// LeaderElect makes one replica the writer of policy status and reports (default true in the chart).
	LeaderElect bool
	// RegistryTimeout bounds each registry request of image trust (default 2s).
	RegistryTimeout time.Duration
	// RegistryHosts are the only registries image trust contacts; empty allows any.
	RegistryHosts []string
	// RegistryMirrors map a registry name to the address dialled for it.
	RegistryMirrors map[string]string
	// ImageCacheTTL is how long digests and evidence are reused (default 5m).
	ImageCacheTTL time.Duration
	// ImageNegativeCacheTTL is how long a registry error is reused (default 10s).
	ImageNegativeCacheTTL time.Duration
	// ReadPullSecrets reads pods' image pull secrets and key.secretRef Secrets.
	ReadPullSecrets bool
	// RegistryCredentials is a docker config.json with the controller's own registry
	// credentials, tried after a pod's pull secrets; empty is anonymous.
	RegistryCredentials string
	// VEXInterval is how often the VEX ConfigMaps are re-read (default 30s).
	VEXInterval time.Duration
	// Mesh configures sidecar injection; nil injects nothing.
	Mesh *MeshOptions
}

// MeshOptions configure sidecar injection.
type MeshOptions struct {
	// Image is Outrider's image for the capture and proxy containers.
	Image string
	// IdentityService is the identity Service's name in the controller's namespace, and
	// IdentityPort its gRPC port; pods reach it at the Service's cluster IP.
	IdentityService string
	IdentityPort    int
	// IdentityID is the SPIFFE ID the identity service presents.
	IdentityID string
	// BundleConfigMap is the trust bundle ConfigMap in every meshed namespace.
	BundleConfigMap string
	// OptOutUsers and OptOutGroups may take pods out of a meshed namespace's mesh.
	OptOutUsers, OptOutGroups []string
	// LogLevel of the proxies.
	LogLevel string
	// NetworkPolicies keeps a NetworkPolicy applied for each AccessPolicy (defence in depth).
	NetworkPolicies bool
	// ProvenanceSecret holds the controller's provenance signing key (created on first start),
	// and ProvenanceKeys is the ConfigMap its public key is published in.
	ProvenanceSecret, ProvenanceKeys string
}

func (o *Options) defaults() error {
	if o.Namespace == "" {
		return fmt.Errorf("the controller's namespace is not set (--namespace or POD_NAMESPACE)")
	}
	if o.WebhookPort == 0 {
		o.WebhookPort = 9443
	}
	if o.MetricsAddr == "" {
		o.MetricsAddr = ":8080"
	}
	if o.HealthAddr == "" {
		o.HealthAddr = ":8081"
	}
	if o.CertSecret == "" {
		o.CertSecret = "outrider-webhook-cert"
	}
	if o.ServiceName == "" {
		o.ServiceName = "outrider-webhook"
	}
	if o.FailOn == "" {
		o.FailOn = policy.SeverityHigh
	}
	if o.AuditInterval == 0 {
		o.AuditInterval = 5 * time.Minute
	}
	if o.VEXInterval == 0 {
		o.VEXInterval = 30 * time.Second
	}
	return nil
}
