package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/install"
)

// installOptions are `outrider install`'s flags.
type installOptions struct {
	install.Options
	dryRun bool
	debug  bool
}

func newInstallCommand(s command.Streams) *cobra.Command {
	o := &installOptions{}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install or upgrade Outrider's admission controller in a cluster",
		Long: `Install Outrider's Helm chart, which this binary carries, into the cluster of the current
kubeconfig context: the CRDs, the admission controller (2 replicas), its webhooks, least-privilege
RBAC and a default ClusterSecurityPolicy (Pod Security Standards restricted, Enforce). When the
release exists it is upgraded, CRDs included. No helm binary or chart repository is needed.

Values are the chart's (deploy/charts/outrider/values.yaml documents each): -f files are merged
in order, then --set. On upgrade the values given replace the previous ones; with none, the
previous values are kept.

With --dry-run nothing is contacted: the manifests are printed on standard output, CRDs first,
for review or for 'outrider scan' and 'kubectl apply'.`,
		Example: `  outrider install
  outrider install --set image.tag=v0.1.0 --set defaultPolicy.mode=Audit
  outrider install -f my-values.yaml --context prod --timeout 5m
  outrider install --dry-run | outrider scan -`,
		Args:    cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error { return validateInstall(o.Timeout, o.Validate) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Progress = s.Err
			if o.debug {
				o.Debug = s.Err
			}
			if o.dryRun {
				return runRender(s, o.Options)
			}
			res, err := install.Install(cmd.Context(), o.Options)
			if err != nil {
				return &command.ExitError{Code: 1, Err: err}
			}
			fmt.Fprintf(s.Err, "done (revision %d)\n", res.Revision)
			_, err = fmt.Fprintln(s.Out, res.Notes)
			return err
		},
	}
	f := cmd.Flags()
	clusterFlags(f, &o.Options)
	f.StringArrayVarP(&o.ValueFiles, "values", "f", nil, "values file for the chart (repeatable; later files win)")
	f.StringArrayVar(&o.Set, "set", nil, "chart value as key=value, like image.tag=v1 or admission.excludeNamespaces={a,b} (repeatable; wins over -f)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the rendered manifests instead of installing; contacts no cluster")
	f.BoolVar(&o.Wait, "wait", true, "wait until the controller is ready")
	f.DurationVar(&o.Timeout, "timeout", install.DefaultTimeout, "how long to wait for the controller and for each Kubernetes operation")
	f.BoolVar(&o.debug, "debug", false, "print the Helm SDK's log on standard error")
	return cmd
}

// runRender prints the chart's manifests for `install --dry-run`. Values the chart refuses
// are input errors (exit code 2).
func runRender(s command.Streams, o install.Options) error {
	r, err := install.Render(o)
	if err != nil {
		return &command.ExitError{Code: 2, Err: err}
	}
	_, err = fmt.Fprint(s.Out, r.Manifest)
	return err
}

func newUninstallCommand(s command.Streams) *cobra.Command {
	o := &install.Options{}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove Outrider's admission controller from a cluster",
		Long: `Uninstall the release 'outrider install' made: the webhooks, the controller, its RBAC and the
default policy. The CRDs, the policies and PolicyReports stored in them, the serving
certificate's Secret and the namespace are left in place; delete them by hand to remove every
trace. A release that does not exist is not an error.`,
		Args:    cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error { return validateInstall(o.Timeout, o.Validate) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Progress = s.Err
			if err := install.Uninstall(cmd.Context(), *o); err != nil {
				return &command.ExitError{Code: 1, Err: err}
			}
			fmt.Fprintln(s.Err, "done")
			return nil
		},
	}
	f := cmd.Flags()
	clusterFlags(f, o)
	f.BoolVar(&o.Wait, "wait", true, "wait until the release's objects are deleted")
	f.DurationVar(&o.Timeout, "timeout", install.DefaultTimeout, "how long to wait")
	return cmd
}

// clusterFlags are the flags that say which cluster, namespace and release.
func clusterFlags(f *pflag.FlagSet, o *install.Options) {
	f.StringVar(&o.KubeConfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.Context, "context", "", "kubeconfig context (default the current context)")
	f.StringVarP(&o.Namespace, "namespace", "n", install.DefaultNamespace, "namespace of the controller and the release")
	f.StringVar(&o.ReleaseName, "release", install.DefaultReleaseName, "Helm release name")
}

// validateInstall checks the options install and uninstall share, as usage errors.
func validateInstall(timeout time.Duration, validate func() error) error {
	if timeout <= 0 {
		return command.UsageError("--timeout must be positive, not %s", timeout)
	}
	if err := validate(); err != nil {
		return command.UsageError("%v", err)
	}
	return nil
}
