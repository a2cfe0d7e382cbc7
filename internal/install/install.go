package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"
)

// Result says what Install did.
type Result struct {
	// Upgraded is true when a release existed and was upgraded, false for a first install.
	Upgraded bool
	// Revision is the release revision now deployed.
	Revision int
	// Notes is the chart's NOTES.txt, rendered for the release.
	Notes string
}

// Install installs the embedded chart, or upgrades the release when it exists, then (with
// opts.Wait) waits until the controller is ready. Values given replace the previous release's;
// with none, the previous values are kept (Helm's upgrade rule). Nothing is rolled back on
// failure: the cluster keeps what was applied, and the error says what is not ready.
func Install(ctx context.Context, opts Options) (*Result, error) {
	chrt, vals, err := prepare(&opts)
	if err != nil {
		return nil, err
	}
	cfg, err := configuration(opts)
	if err != nil {
		return nil, err
	}
	exists, err := releaseExists(cfg, opts.ReleaseName)
	if err != nil {
		return nil, err
	}
	var rel *release.Release
	if exists {
		rel, err = upgrade(ctx, cfg, chrt, vals, opts)
	} else {
		rel, err = install(ctx, cfg, chrt, vals, opts)
	}
	if err != nil {
		return nil, err
	}
	res := &Result{Upgraded: exists, Revision: rel.Version, Notes: rel.Info.Notes}
	if !opts.Wait {
		return res, nil
	}
	fmt.Fprintln(opts.Progress, "waiting for the controller to be ready…")
	if err := waitReady(cfg, rel, opts); err != nil {
		return res, err
	}
	return res, nil
}

func install(ctx context.Context, cfg *action.Configuration, chrt *chart.Chart, vals map[string]any, opts Options) (*release.Release, error) {
	fmt.Fprintf(opts.Progress, "installing %s %s into %s…\n", chrt.Name(), chrt.Metadata.Version, opts.Namespace)
	inst := action.NewInstall(cfg)
	inst.ReleaseName = opts.ReleaseName
	inst.Namespace = opts.Namespace
	inst.CreateNamespace = true
	inst.Timeout = opts.Timeout
	inst.Atomic = false
	// Readiness is waited for separately (waitReady), so progress can say what it waits for.
	inst.Wait = false
	rel, err := inst.RunWithContext(ctx, chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("installing release %q in %s: %w", opts.ReleaseName, opts.Namespace, err)
	}
	return rel, nil
}

func upgrade(ctx context.Context, cfg *action.Configuration, chrt *chart.Chart, vals map[string]any, opts Options) (*release.Release, error) {
	fmt.Fprintf(opts.Progress, "upgrading %s to %s in %s…\n", opts.ReleaseName, chrt.Metadata.Version, opts.Namespace)
	// Helm never updates the CRDs of crds/ on upgrade; the policy schema must follow the
	// controller, so replace them first.
	if err := applyCRDs(cfg, chrt); err != nil {
		return nil, err
	}
	up := action.NewUpgrade(cfg)
	up.Namespace = opts.Namespace
	up.Timeout = opts.Timeout
	up.Atomic = false
	up.Wait = false
	up.MaxHistory = 10
	rel, err := up.RunWithContext(ctx, opts.ReleaseName, chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("upgrading release %q in %s: %w", opts.ReleaseName, opts.Namespace, err)
	}
	return rel, nil
}

// applyCRDs creates or replaces the chart's CRDs.
func applyCRDs(cfg *action.Configuration, chrt *chart.Chart) error {
	for _, crd := range chrt.CRDObjects() {
		res, err := cfg.KubeClient.Build(bytes.NewReader(crd.File.Data), false)
		if err != nil {
			return fmt.Errorf("reading CRD %s: %w", crd.Filename, err)
		}
		if _, err := cfg.KubeClient.Update(res, res, true); err != nil {
			return fmt.Errorf("updating CRD %s: %w", crd.Filename, err)
		}
	}
	return nil
}

// waitReady waits, with Helm's readiness rules, until every object of the release is ready:
// above all the controller's Deployment, whose pods turn ready only with the policies loaded
// and the serving certificate in place.
func waitReady(cfg *action.Configuration, rel *release.Release, opts Options) error {
	res, err := cfg.KubeClient.Build(bytes.NewBufferString(rel.Manifest), false)
	if err != nil {
		return fmt.Errorf("reading the release's objects: %w", err)
	}
	if err := cfg.KubeClient.Wait(res, opts.Timeout); err != nil {
		return fmt.Errorf("the controller is not ready after %s (see kubectl -n %s get pods,events): %w",
			opts.Timeout, opts.Namespace, err)
	}
	return nil
}

// Uninstall removes the release: first its webhook configurations, so no API request is sent
// to a controller that is going away, then the rest (controller, RBAC, default policy). The
// CRDs, the policies and reports stored in them, and the release namespace are left in place.
// A release that does not exist is not an error.
func Uninstall(ctx context.Context, opts Options) error {
	if err := opts.defaults(); err != nil {
		return err
	}
	cfg, err := configuration(opts)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Fprintf(opts.Progress, "uninstalling %s from %s…\n", opts.ReleaseName, opts.Namespace)
	if err := deleteWebhooks(cfg, opts.ReleaseName); err != nil {
		return err
	}
	un := action.NewUninstall(cfg)
	un.Wait = opts.Wait
	un.Timeout = opts.Timeout
	un.IgnoreNotFound = true
	if _, err := un.Run(opts.ReleaseName); err != nil {
		return fmt.Errorf("uninstalling release %q from %s: %w", opts.ReleaseName, opts.Namespace, err)
	}
	return nil
}

// deleteWebhooks deletes the release's webhook configurations. Helm deletes a release's
// objects together, in no order that puts webhooks first.
func deleteWebhooks(cfg *action.Configuration, name string) error {
	rel, err := action.NewGet(cfg).Run(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading release %q: %w", name, err)
	}
	all, err := cfg.KubeClient.Build(bytes.NewBufferString(rel.Manifest), false)
	if err != nil {
		return fmt.Errorf("reading the release's objects: %w", err)
	}
	hooks := all.Filter(func(i *resource.Info) bool {
		k := i.Mapping.GroupVersionKind.Kind
		return k == "ValidatingWebhookConfiguration" || k == "MutatingWebhookConfiguration"
	})
	if len(hooks) == 0 {
		return nil
	}
	if _, errs := cfg.KubeClient.Delete(hooks); len(errs) > 0 {
		return fmt.Errorf("deleting the webhook configurations: %w", errors.Join(errs...))
	}
	return nil
}

// configuration connects the Helm SDK to the cluster of opts' kubeconfig and context, with
// releases stored as Secrets in the release namespace (Helm's default).
func configuration(opts Options) (*action.Configuration, error) {
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &opts.KubeConfig
	flags.Context = &opts.Context
	flags.Namespace = &opts.Namespace
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, opts.Namespace, "secret", debugLog(opts.Debug)); err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	if kc, ok := cfg.KubeClient.(*kube.Client); ok {
		kc.Namespace = opts.Namespace
	}
	return cfg, nil
}

// releaseExists reports whether the release has any history in its namespace.
func releaseExists(cfg *action.Configuration, name string) (bool, error) {
	h := action.NewHistory(cfg)
	h.Max = 1
	_, err := h.Run(name)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, driver.ErrReleaseNotFound):
		return false, nil
	}
	return false, fmt.Errorf("reading the history of release %q: %w", name, err)
}
