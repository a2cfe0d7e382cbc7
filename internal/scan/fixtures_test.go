package scan

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files of test/fixtures")

const (
	fixtures  = "../../test/fixtures"
	goldenDir = "../../test/golden"
)

// golden is the part of a result the fixtures pin down.
type golden struct {
	Verdict  string          `json:"verdict"`
	Findings []goldenFinding `json:"findings"`
	Errors   []string        `json:"errors,omitempty"`
}

type goldenFinding struct {
	Resource   string `json:"resource"`
	Check      string `json:"check"`
	Severity   string `json:"severity"`
	Container  string `json:"container,omitempty"`
	Path       string `json:"path"`
	Suppressed string `json:"suppressed,omitempty"`
}

// toGolden reduces a result to its golden form.
func toGolden(r *report.Result) golden {
	g := golden{Verdict: r.Summary.Verdict, Findings: []goldenFinding{}}
	for _, f := range r.Findings {
		gf := goldenFinding{
			Resource: f.Resource.Kind + " " + f.Resource.Namespace + "/" + f.Resource.Name,
			Check:    f.Check, Severity: string(f.Severity), Container: f.Container, Path: f.Path,
		}
		if f.Suppressed != nil {
			gf.Suppressed = f.Suppressed.By
		}
		g.Findings = append(g.Findings, gf)
	}
	for _, e := range r.Errors {
		g.Errors = append(g.Errors, filepath.Base(e.File)+":"+itoa(e.Line)+": "+e.Message)
	}
	return g
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// fixturePolicies reads the "# policy: FILE" header of a fixture.
func fixturePolicies(t *testing.T, file string) []*policy.Policy {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	name, ok := strings.CutPrefix(strings.TrimSpace(line), "# policy: ")
	if !ok {
		return nil
	}
	path := filepath.Join(fixtures, name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := policy.ParsePolicies(path, data, "default")
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestFixtures scans every shared fixture and compares with its golden result. The admission
// e2e suite holds the controller to the same verdicts.
func TestFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "*.yaml"))
	jsons, _ := filepath.Glob(filepath.Join(fixtures, "*.json"))
	files = append(files, jsons...)
	if len(files) < 8 {
		t.Fatalf("found %d fixtures in %s", len(files), fixtures)
	}
	cases := map[string]Options{}
	for _, f := range files {
		cases[strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))] = Options{Paths: []string{f}, Policies: fixturePolicies(t, f)}
	}
	cases["kustomize-overlay"] = Options{Kustomizations: []string{filepath.Join(fixtures, "kustomize/overlay")}}
	seen := map[string]bool{}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			opts.Now = func() time.Time { return time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) }
			res, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(toGolden(res), "", "  ")
			got = append(got, '\n')
			path := filepath.Join(goldenDir, name+".json")
			seen[filepath.Base(path)] = true
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/scan -run TestFixtures -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
	// A golden file that no fixture produced is stale.
	goldens, _ := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	for _, g := range goldens {
		if !seen[filepath.Base(g)] && !*update {
			t.Errorf("%s has no fixture", g)
		}
	}
}
