package install

import (
	"fmt"
	"io/fs"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/strvals"

	"github.com/outrider-sec/outrider/deploy"
)

// LoadChart loads the chart embedded in the binary.
func LoadChart() (*chart.Chart, error) {
	return loadChartFS(deploy.ChartFS())
}

// loadChartFS loads a chart from fsys, whose root holds Chart.yaml.
func loadChartFS(fsys fs.FS) (*chart.Chart, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: path, Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the embedded chart: %w", err)
	}
	c, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("loading the embedded chart: %w", err)
	}
	return c, nil
}

// CheckSet reports a malformed --set expression (key=value[,key=value]) without reading
// anything, so the command line can refuse it before contacting a cluster.
func CheckSet(exprs []string) error {
	for _, e := range exprs {
		if err := strvals.ParseInto(e, map[string]any{}); err != nil {
			return fmt.Errorf("--set %q: %w", e, err)
		}
	}
	return nil
}

// mergeValues merges the values files in order, then the --set expressions, as helm does:
// later files override earlier ones and --set overrides every file.
func mergeValues(files, set []string) (map[string]any, error) {
	opts := values.Options{ValueFiles: files, Values: set}
	// No getters: values files are local paths, never URLs fetched on the user's behalf.
	vals, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		return nil, fmt.Errorf("reading values: %w", err)
	}
	return vals, nil
}
