package install

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint/support"

	"github.com/outrider-sec/outrider/deploy"
)

// TestChartLints runs `helm lint --strict` (through the SDK) on the chart the binary embeds,
// with default values and with overrides: no warnings, no errors.
func TestChartLints(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outrider")
	if err := os.CopyFS(dir, deploy.ChartFS()); err != nil {
		t.Fatal(err)
	}
	kv, err := chartutil.ParseKubeVersion(offlineKubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for _, vals := range []map[string]any{nil, {"replicas": 1, "priorityClassName": "system-cluster-critical"}} {
		l := action.NewLint()
		l.Strict = true
		l.Namespace = DefaultNamespace
		l.KubeVersion = kv
		res := l.Run([]string{dir}, vals)
		for _, m := range res.Messages {
			if m.Severity > support.InfoSev {
				t.Errorf("lint: %s", m)
			}
		}
		for _, err := range res.Errors {
			t.Errorf("lint error: %v", err)
		}
		if res.TotalChartsLinted != 1 {
			t.Errorf("linted %d charts, want 1", res.TotalChartsLinted)
		}
	}
}

// TestChartEmbedsCRDs: the binary carries the generated CRDs, so install creates them.
func TestChartEmbedsCRDs(t *testing.T) {
	crds, err := fs.Glob(deploy.ChartFS(), "crds/*.yaml")
	if err != nil || len(crds) < 2 {
		t.Errorf("embedded CRDs %v (%v), want the security.outrider.dev CRDs", crds, err)
	}
	c, err := LoadChart()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.CRDObjects()) != len(crds) {
		t.Errorf("the loaded chart has %d CRDs, want %d", len(c.CRDObjects()), len(crds))
	}
	if c.Metadata.Name != "outrider" || c.Metadata.Version != "0.1.0" || c.Metadata.APIVersion != "v2" {
		t.Errorf("chart metadata %+v", c.Metadata)
	}
}
