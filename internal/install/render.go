package install

import (
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// Rendered is the chart rendered for one release.
type Rendered struct {
	// Manifest is the multi-document YAML the release consists of, CRDs first.
	Manifest string
	// Notes is the chart's NOTES.txt, rendered.
	Notes string
	// ChartVersion is the embedded chart's version.
	ChartVersion string
}

// Render renders the embedded chart for opts without a cluster, as `helm template
// --include-crds` would. Invalid values (such as an admission timeout above 5 seconds) are
// errors that name the value.
func Render(opts Options) (*Rendered, error) {
	chrt, vals, err := prepare(&opts)
	if err != nil {
		return nil, err
	}
	kv, err := chartutil.ParseKubeVersion(offlineKubeVersion)
	if err != nil {
		return nil, fmt.Errorf("parsing the offline kubernetes version: %w", err)
	}
	inst := action.NewInstall(&action.Configuration{Log: debugLog(opts.Debug)})
	inst.DryRun = true
	inst.ClientOnly = true
	inst.IncludeCRDs = true
	inst.Replace = true // no release storage to check names against
	inst.ReleaseName = opts.ReleaseName
	inst.Namespace = opts.Namespace
	inst.KubeVersion = kv
	rel, err := inst.Run(chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("rendering the chart: %w", err)
	}
	return &Rendered{Manifest: rel.Manifest, Notes: rel.Info.Notes, ChartVersion: chrt.Metadata.Version}, nil
}

// prepare applies the option defaults and loads what every action needs: the embedded chart and
// the values given with -f and --set.
func prepare(opts *Options) (*chart.Chart, map[string]any, error) {
	if err := opts.defaults(); err != nil {
		return nil, nil, err
	}
	chrt, err := LoadChart()
	if err != nil {
		return nil, nil, err
	}
	vals, err := mergeValues(opts.ValueFiles, opts.Set)
	if err != nil {
		return nil, nil, err
	}
	return chrt, vals, nil
}
