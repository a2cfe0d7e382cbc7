package cli

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/controller"
	"github.com/outrider-sec/outrider/internal/policy"
)

func newControllerCommand(s command.Streams) *cobra.Command {
	var (
		o         controller.Options
		failOn    string
		exempt    string
		hosts     []string
		mirrors   []string
		mesh      controller.MeshOptions
		meshOn    bool
		logFormat string
		logLevel  string
		log       *slog.Logger
	)
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the admission controller (in the cluster; installed by the Helm chart)",
		Long: `Run Outrider's admission controller: validating webhooks for every workload kind, ephemeral
containers and exec/attach/port-forward, the mutating webhook, the serving certificate, the
policy cache and the background audit that writes PolicyReports.

It is started by the Helm chart (deploy/charts/outrider, or 'outrider install'); run it by hand
only against a cluster whose webhook configurations point at it.`,
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			sev, err := policy.ParseSeverity(failOn)
			if err != nil {
				return command.UsageError("--fail-on: %v", err)
			}
			o.FailOn = sev
			if exempt != "" {
				for _, g := range strings.Split(exempt, ",") {
					if g = strings.TrimSpace(g); g != "" {
						o.ExecExemptGroups = append(o.ExecExemptGroups, g)
					}
				}
			}
			for _, h := range hosts {
				if h = strings.TrimSpace(h); h != "" {
					o.RegistryHosts = append(o.RegistryHosts, h)
				}
			}
			m, err := parseMirrors(mirrors)
			if err != nil {
				return err
			}
			o.RegistryMirrors = m
			if meshOn {
				o.Mesh = &mesh
			}
			if o.Namespace == "" {
				o.Namespace = os.Getenv("POD_NAMESPACE")
			}
			if o.Namespace == "" {
				return command.UsageError("--namespace is required (or set POD_NAMESPACE)")
			}
			log, err = command.NewLogger(s, logFormat, logLevel)
			return err
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := ctrl.GetConfig()
			if err != nil {
				return &command.ExitError{Code: 1, Err: fmt.Errorf("kubernetes client configuration: %w", err)}
			}
			if err := controller.Run(cmd.Context(), cfg, o, log); err != nil {
				return &command.ExitError{Code: 1, Err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Namespace, "namespace", "", "the controller's own namespace (default $POD_NAMESPACE)")
	f.IntVar(&o.WebhookPort, "webhook-port", 9443, "port of the admission webhooks (TLS)")
	f.StringVar(&o.MetricsAddr, "metrics-addr", ":8080", "address of the Prometheus metrics endpoint (0 turns it off)")
	f.StringVar(&o.HealthAddr, "health-addr", ":8081", "address of /healthz and /readyz")
	f.StringVar(&o.CertSecret, "cert-secret", "outrider-webhook-cert", "Secret that holds the serving certificate")
	f.StringVar(&o.ServiceName, "service-name", "outrider-webhook", "the webhook Service the certificate is for")
	f.StringVar(&o.ValidatingWebhook, "validating-webhook", "outrider-validating", "ValidatingWebhookConfiguration whose caBundle is kept")
	f.StringVar(&o.MutatingWebhook, "mutating-webhook", "outrider-mutating", "MutatingWebhookConfiguration whose caBundle is kept")
	f.StringVar(&failOn, "fail-on", "high", "lowest severity an Enforce finding refuses at (as outrider scan --fail-on)")
	f.StringVar(&exempt, "exec-exempt-groups", "", "comma-separated groups that may exec/attach/port-forward into any pod")
	f.DurationVar(&o.AuditInterval, "audit-interval", 5*time.Minute, "how often running workloads are audited")
	f.BoolVar(&o.LeaderElect, "leader-elect", false, "elect one replica to write policy status and reports")
	f.DurationVar(&o.RegistryTimeout, "registry-timeout", 2*time.Second, "bound of each registry request (digests, signatures, attestations); keep it inside the webhook timeout")
	f.StringSliceVar(&hosts, "registry-hosts", nil, "the only registries image trust may contact (host or host:port, comma-separated); empty allows any")
	f.StringSliceVar(&mirrors, "registry-mirrors", nil, "registry=address pairs: requests for images named on registry are sent to address (comma-separated)")
	f.DurationVar(&o.ImageCacheTTL, "image-cache-ttl", 5*time.Minute, "how long a tag's digest and an image's signatures are reused")
	f.DurationVar(&o.ImageNegativeCacheTTL, "image-negative-cache-ttl", 10*time.Second, "how long a registry error is reused before asking again")
	f.BoolVar(&o.ReadPullSecrets, "read-pull-secrets", true, "read pods' image pull secrets and key.secretRef Secrets (get only)")
	f.BoolVar(&meshOn, "mesh", false, "inject the mesh (capture and proxy) into pods of meshed namespaces")
	f.StringVar(&mesh.Image, "mesh-image", "", "Outrider's image for the injected capture and proxy containers (pin it by digest)")
	f.StringVar(&mesh.IdentityService, "mesh-identity-service", "outrider-identity", "the identity Service in the controller's namespace")
	f.IntVar(&mesh.IdentityPort, "mesh-identity-port", 15012, "the identity Service's gRPC port")
	f.StringVar(&mesh.IdentityID, "mesh-identity-id", "", "the SPIFFE ID the identity service presents (spiffe://<td>/ns/<ns>/sa/<sa>)")
	f.StringVar(&mesh.BundleConfigMap, "mesh-bundle-configmap", "outrider-trust-bundle", "the trust bundle ConfigMap in every meshed namespace")
	f.StringSliceVar(&mesh.OptOutUsers, "mesh-opt-out-users", nil, "users who may opt pods out of a meshed namespace's mesh (security.outrider.dev/inject: \"false\")")
	f.StringSliceVar(&mesh.OptOutGroups, "mesh-opt-out-groups", nil, "groups who may opt pods out of a meshed namespace's mesh")
	f.BoolVar(&mesh.NetworkPolicies, "mesh-network-policies", false, "keep a NetworkPolicy applied for each AccessPolicy (L3/L4 defence in depth; needs a network plugin that enforces them)")
	f.StringVar(&mesh.LogLevel, "mesh-proxy-log-level", "info", "log level of the injected proxies")
	f.StringVar(&mesh.ProvenanceSecret, "mesh-provenance-secret", "outrider-provenance-key", "Secret with the controller's provenance signing key (created on first start)")
	f.StringVar(&mesh.ProvenanceKeys, "mesh-provenance-keys", "outrider-provenance-keys", "ConfigMap the provenance public key is published in, for the identity service")
	f.StringVar(&o.RegistryCredentials, "registry-credentials", "", "docker config.json with the controller's own registry credentials (tried after a pod's pull secrets)")
	f.StringVar(&logFormat, "log-format", "json", "log format: json or text")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// parseMirrors reads "registry=address" pairs.
func parseMirrors(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		from, to, ok := strings.Cut(p, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, command.UsageError("--registry-mirrors: want registry=address, like 127.0.0.1:5000=10.88.0.1:5000, not %q", p)
		}
		out[strings.ToLower(from)] = to
	}
	return out, nil
}
