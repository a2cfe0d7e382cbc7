package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/mesh/accesspolicy"
)

// netpolOptions are the flags of `outrider mesh netpol`.
type netpolOptions struct {
	kubeconfig, context, namespace string
}

func newMeshCommand(s command.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mesh",
		Short: "Tools for the mesh's access policies",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newNetpolCommand(s))
	return cmd
}

func newNetpolCommand(s command.Streams) *cobra.Command {
	o := &netpolOptions{}
	cmd := &cobra.Command{
		Use:   "netpol [FILE|DIR|-]...",
		Short: "Render AccessPolicies as plain NetworkPolicies (L3/L4 defence in depth)",
		Long: `Render each AccessPolicy as a networking.k8s.io/v1 NetworkPolicy that selects the same pods and
allows ingress from the same pods and namespaces on the same TCP ports, for the cluster's network
plugin to enforce beneath the sidecar proxy.

A NetworkPolicy cannot name ServiceAccounts, image provenance or HTTP requests. Where an
AccessPolicy does, the NetworkPolicy allows more, never less: ServiceAccounts become every pod of
their namespaces, provenance and HTTP conditions are left to the proxy. YAML comments above each
object say what was widened. Ports are the application's: the proxy's redirect happens inside the
pod, after the NetworkPolicy has seen the port the client dialled.

With paths, AccessPolicies are read from files, directories (*.yaml, *.yml, *.json) and standard
input ("-"); other kinds are skipped, and -n sets the namespace of policies that have none. With
no path, they are listed from the cluster of the kubeconfig context, in every namespace or in -n.

Exit codes: 0 all rendered, 1 the cluster could not be read, 2 bad usage or some input invalid
(the valid policies are still rendered).`,
		Example: `  outrider mesh netpol policies/ | kubectl apply -f -
  kubectl get accesspolicies -A -o yaml | outrider mesh netpol -
  outrider mesh netpol --context prod -n shop > netpol.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PreRunE: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 && (o.kubeconfig != "" || o.context != "") {
				return command.UsageError("--kubeconfig and --context read the cluster: give them without paths")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNetpol(cmd.Context(), s, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.context, "context", "", "kubeconfig context (default the current context)")
	f.StringVarP(&o.namespace, "namespace", "n", "", `cluster: only this namespace (default all); files: namespace of policies without one (default "default")`)
	return cmd
}

func runNetpol(ctx context.Context, s command.Streams, o *netpolOptions, paths []string) error {
	var (
		policies []v1alpha1.AccessPolicy
		inputErr error
	)
	if len(paths) > 0 {
		policies, inputErr = readAccessPolicies(paths, s.In, o.namespace)
	} else {
		var err error
		if policies, err = listAccessPolicies(ctx, o); err != nil {
			return &command.ExitError{Code: 1, Err: err}
		}
	}
	rendered, renderErr := accesspolicy.RenderNetworkPolicies(policies)
	if err := accesspolicy.WriteNetworkPolicies(s.Out, rendered); err != nil {
		return &command.ExitError{Code: 1, Err: err}
	}
	widened := 0
	for _, r := range rendered {
		if len(r.Notes) > 0 {
			widened++
		}
	}
	fmt.Fprintf(s.Err, "rendered %d NetworkPolicies from %d AccessPolicies", len(rendered), len(policies))
	if widened > 0 {
		fmt.Fprintf(s.Err, "; %d of them carry notes (in YAML comments) on what a NetworkPolicy cannot say", widened)
	}
	fmt.Fprintln(s.Err)
	if err := errors.Join(inputErr, renderErr); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(s.Err, "outrider: %s\n", line)
		}
		return &command.ExitError{Code: 2}
	}
	return nil
}

// readAccessPolicies decodes every AccessPolicy in paths: files, directories (their
// manifests, recursively, hidden directories skipped) and "-" for stdin.
func readAccessPolicies(paths []string, stdin io.Reader, namespace string) ([]v1alpha1.AccessPolicy, error) {
	if namespace == "" {
		namespace = "default"
	}
	var out []v1alpha1.AccessPolicy
	var errs []error
	decode := func(name string, data []byte) {
		ps, err := accesspolicy.Decode(name, data, namespace)
		out = append(out, ps...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(stdin)
			if err != nil {
				errs = append(errs, fmt.Errorf("reading standard input: %w", err))
				continue
			}
			decode("-", data)
			continue
		}
		files, err := manifestFiles(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("reading %s: %w", f, err))
				continue
			}
			decode(f, data)
		}
	}
	return out, errors.Join(errs...)
}

// manifestFiles returns p for a file, or the *.yaml, *.yml and *.json files below a directory.
func manifestFiles(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != p && strings.HasPrefix(d.Name(), "."):
			return filepath.SkipDir
		case !d.IsDir() && slices.Contains([]string{".yaml", ".yml", ".json"}, strings.ToLower(filepath.Ext(path))):
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking %s: %w", p, err)
	}
	return files, nil
}

// listAccessPolicies lists the cluster's AccessPolicies, a page at a time.
func listAccessPolicies(ctx context.Context, o *netpolOptions) ([]v1alpha1.AccessPolicy, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: o.context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	resource := client.Resource(v1alpha1.GroupVersion.WithResource("accesspolicies")).Namespace(o.namespace)
	var out []v1alpha1.AccessPolicy
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := resource.List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("listing AccessPolicies (is Outrider's CRD installed?): %w", err)
		}
		for i := range list.Items {
			var ap v1alpha1.AccessPolicy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, &ap); err != nil {
				return nil, fmt.Errorf("reading AccessPolicy %s/%s: %w", list.Items[i].GetNamespace(), list.Items[i].GetName(), err)
			}
			out = append(out, ap)
		}
		if opts.Continue = list.GetContinue(); opts.Continue == "" {
			return out, nil
		}
	}
}
