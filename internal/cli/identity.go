package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/identity/castore"
	"github.com/outrider-sec/outrider/internal/identity/server"
)

// identityRun runs the service; tests replace it.
var identityRun = server.Run

func newIdentityCommand(s command.Streams) *cobra.Command {
	var (
		o                   server.Options
		logFormat, logLevel string
		log                 *slog.Logger
	)
	cmd := &cobra.Command{
		Use:   "identity",
		Short: "Run the workload identity service (the mesh's CA; installed by the Helm chart)",
		Long: `Run Outrider's identity service: the certificate authority of the mesh. Proxies present their
pod's projected ServiceAccount token (audience outrider-identity) and a CSR over gRPC with TLS;
the service reviews the token, checks the pod it is bound to (exists, not terminating, meshed)
and issues a short-lived X.509 SPIFFE identity spiffe://<trust-domain>/ns/<ns>/sa/<sa>. It
streams each proxy its trust bundle, compiled AccessPolicy and the meshed endpoints, and
publishes the bootstrap bundle as the outrider-trust-bundle ConfigMap in meshed namespaces.

The CA lives in the Secret --ca-secret, created on first start from --root-secret or a
generated root. Rotate the root with 'outrider identity rotate-root' (see docs/identity.md).`,
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if o.Namespace == "" {
				o.Namespace = os.Getenv("POD_NAMESPACE")
			}
			if o.Namespace == "" {
				return command.UsageError("--namespace is required (or set POD_NAMESPACE)")
			}
			if err := checkIdentityTTLs(o); err != nil {
				return err
			}
			var err error
			log, err = command.NewLogger(s, logFormat, logLevel)
			return err
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := ctrl.GetConfig()
			if err != nil {
				return &command.ExitError{Code: 1, Err: fmt.Errorf("kubernetes client configuration: %w", err)}
			}
			if err := identityRun(cmd.Context(), cfg, o, log); err != nil {
				return &command.ExitError{Code: 1, Err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.TrustDomain, "trust-domain", ca.DefaultTrustDomain, "trust domain of every identity (stored with the CA; changing it later is refused)")
	f.StringVar(&o.Namespace, "namespace", "", "the service's own namespace, where its Secrets live (default $POD_NAMESPACE)")
	f.StringVar(&o.ServiceAccount, "service-account", server.DefaultServiceAccount, "the service's ServiceAccount, named in its serving certificate")
	f.StringVar(&o.StateSecret, "ca-secret", castore.DefaultStateSecret, "Secret holding the CA state (created on first start)")
	f.StringVar(&o.RootSecret, "root-secret", "", "Secret with an operator-supplied root (root.crt, root.key, optional intermediate.crt/key); empty generates one")
	f.StringVar(&o.ProvenanceKeys, "provenance-keys", "", "ConfigMap of the controller's Ed25519 provenance public keys (<key-id>.pub); empty: no provenance")
	f.StringVar(&o.Audience, "token-audience", "outrider-identity", "audience the proxies' projected tokens must carry")
	f.DurationVar(&o.DefaultTTL, "default-ttl", ca.DefaultTTL, "lifetime of a workload certificate when the proxy asks for none")
	f.DurationVar(&o.MaxTTL, "max-ttl", ca.DefaultMaxTTL, "longest lifetime a proxy may ask for (at least 1m)")
	f.DurationVar(&o.RotationPropagation, "rotation-propagation", ca.DefaultBundlePropagation, "how long a prepared root is trusted before it signs (root rotation overlap, before the commit)")
	f.DurationVar(&o.RotationOverlap, "rotation-overlap", 0, "how long the replaced root stays trusted after the commit (0: max-ttl + 1h; at least max-ttl)")
	f.StringVar(&o.ListenAddr, "listen-addr", server.DefaultListenAddr, "gRPC (TLS) address")
	f.StringVar(&o.HTTPAddr, "http-addr", server.DefaultHTTPAddr, "plain HTTP address of /healthz, /readyz and /metrics (0 turns it off)")
	f.StringVar(&logFormat, "log-format", "json", "log format: json or text")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	cmd.AddCommand(newRotateRootCommand(s))
	return cmd
}

// checkIdentityTTLs refuses lifetimes the CA would refuse, with the flag names.
func checkIdentityTTLs(o server.Options) error {
	switch {
	case o.MaxTTL < ca.MinTTL:
		return command.UsageError("--max-ttl %s is below the minimum %s", o.MaxTTL, ca.MinTTL)
	case o.DefaultTTL < ca.MinTTL || o.DefaultTTL > o.MaxTTL:
		return command.UsageError("--default-ttl %s must be within [%s, --max-ttl %s]", o.DefaultTTL, ca.MinTTL, o.MaxTTL)
	case o.RotationOverlap != 0 && o.RotationOverlap < o.MaxTTL:
		return command.UsageError("--rotation-overlap %s is shorter than --max-ttl %s: leaves of the old root would stop verifying", o.RotationOverlap, o.MaxTTL)
	case o.RotationPropagation <= 0:
		return command.UsageError("--rotation-propagation must be positive")
	}
	return nil
}

func newRotateRootCommand(s command.Streams) *cobra.Command {
	var (
		kubeconfig, kubeContext, namespace, secret string
		abort                                      bool
	)
	cmd := &cobra.Command{
		Use:   "rotate-root",
		Short: "Ask the identity service to rotate (or abort rotating) its root CA",
		Long: `Annotate the CA Secret so the identity service prepares a root rotation: the new root (from
--root-secret if it holds a different one, else generated) joins the trust bundle at once and is
pushed to every proxy; after --rotation-propagation the service commits it (it signs from then on)
and the old root stays trusted for --rotation-overlap. --abort removes a prepared root before the
commit. The outcome is written to the Secret's annotation ` + castore.AnnotationRotateStatus + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rules := clientcmd.NewDefaultClientConfigLoadingRules()
			rules.ExplicitPath = kubeconfig
			cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
			if err != nil {
				return &command.ExitError{Code: 1, Err: fmt.Errorf("kubernetes client configuration: %w", err)}
			}
			req := fmt.Sprintf("prepare-%d", time.Now().Unix())
			if abort {
				req = fmt.Sprintf("abort-%d", time.Now().Unix())
			}
			if err := requestRotation(cmd.Context(), cfg, namespace, secret, req); err != nil {
				return &command.ExitError{Code: 1, Err: err}
			}
			fmt.Fprintf(s.Out, "requested %s on %s/%s; follow it with: kubectl -n %s get secret %s -o jsonpath='{.metadata.annotations.%s}'\n",
				req, namespace, secret, namespace, secret, jsonPathKey(castore.AnnotationRotateStatus))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&kubeContext, "context", "", "kubeconfig context (default the current context)")
	f.StringVarP(&namespace, "namespace", "n", "outrider-system", "namespace of the identity service")
	f.StringVar(&secret, "ca-secret", castore.DefaultStateSecret, "the CA Secret")
	f.BoolVar(&abort, "abort", false, "abort a prepared rotation instead")
	return cmd
}

// requestRotation sets the rotation annotation with a merge patch.
func requestRotation(ctx context.Context, cfg *rest.Config, namespace, secret, req string) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, castore.AnnotationRotate, req)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().Secrets(namespace).Patch(ctx, secret, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotating %s/%s: %w", namespace, secret, err)
	}
	return nil
}

// jsonPathKey escapes the dots of an annotation key for kubectl's jsonpath.
func jsonPathKey(k string) string {
	out := make([]byte, 0, len(k)+4)
	for i := 0; i < len(k); i++ {
		if k[i] == '.' {
			out = append(out, '\\')
		}
		out = append(out, k[i])
	}
	return string(out)
}
