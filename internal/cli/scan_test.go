package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outrider-sec/outrider/internal/cli/command"
)

// run executes the command line in-process and returns exit code, stdout and stderr.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, command.Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

const fixtures = "../../test/fixtures/"

func TestScanExitCodes(t *testing.T) {
	dir := t.TempDir()
	warnPolicy := filepath.Join(dir, "warn.yaml")
	os.WriteFile(warnPolicy, []byte("apiVersion: security.outrider.dev/v1alpha1\nkind: ClusterSecurityPolicy\nmetadata: {name: w}\nspec: {mode: Warn}\n"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"clean", []string{"scan", fixtures + "compliant-deployment.yaml"}, 0},
		{"blocking findings", []string{"scan", fixtures + "privileged-deployment.yaml"}, 1},
		{"below the threshold", []string{"scan", "--fail-on", "critical", fixtures + "cronjob-defaults.yaml"}, 0},
		{"warn mode never fails", []string{"scan", "--policy", warnPolicy, fixtures + "privileged-deployment.yaml"}, 0},
		{"broken input", []string{"scan", fixtures + "broken.yaml"}, 2},
		{"missing file", []string{"scan", filepath.Join(dir, "nope.yaml")}, 2},
		{"no input", []string{"scan"}, 2},
		{"bad format", []string{"scan", "-o", "yaml", fixtures}, 2},
		{"bad severity", []string{"scan", "--fail-on", "urgent", fixtures}, 2},
		{"bad flag", []string{"scan", "--nope", fixtures}, 2},
		{"bad policy", []string{"scan", "--policy", fixtures + "privileged-deployment.yaml", fixtures}, 2},
		{"unknown command", []string{"scna"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if tt.code == 2 && out == "" && errOut == "" {
				t.Error("a usage or input error said nothing")
			}
		})
	}
}

func TestScanUsageErrorsSayWhat(t *testing.T) {
	_, _, errOut := run(t, "", "scan", "-o", "yaml", fixtures)
	if !strings.Contains(errOut, `unknown output format "yaml"`) || !strings.Contains(errOut, "sarif") {
		t.Errorf("stderr: %s", errOut)
	}
	_, _, errOut = run(t, "", "scan", "--policy", fixtures+"privileged-deployment.yaml", fixtures)
	if !strings.Contains(errOut, "privileged-deployment.yaml:2") || !strings.Contains(errOut, "not Deployment") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestScanStdinJSON(t *testing.T) {
	manifest, _ := os.ReadFile(fixtures + "privileged-deployment.yaml")
	code, out, _ := run(t, string(manifest), "scan", "-o", "json", "-")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var doc struct {
		Findings []map[string]any `json:"findings"`
		Errors   []any            `json:"errors"`
		Summary  map[string]any   `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(doc.Findings) == 0 || doc.Errors == nil || doc.Summary["verdict"] != "fail" {
		t.Fatalf("unexpected document: %s", out)
	}
	for _, key := range []string{"check", "severity", "mode", "resource", "container", "path", "message", "file", "line"} {
		if _, ok := doc.Findings[0][key]; !ok {
			t.Errorf("finding lacks %q", key)
		}
	}
	if doc.Findings[0]["file"] != "-" {
		t.Errorf("file = %v, want - for stdin", doc.Findings[0]["file"])
	}
}

func TestScanEveryFormat(t *testing.T) {
	for _, f := range []string{"text", "json", "sarif", "junit"} {
		code, out, errOut := run(t, "", "scan", "-o", f, "--color", "never", fixtures+"privileged-deployment.yaml")
		if code != 1 || !strings.Contains(out, "pss.privileged") {
			t.Errorf("%s: exit %d, stderr %s, output lacks the check:\n%s", f, code, errOut, out)
		}
		if strings.Contains(out, "\x1b[") {
			t.Errorf("%s: colour codes with --color never", f)
		}
	}
}

func TestScanKustomize(t *testing.T) {
	code, out, _ := run(t, "", "scan", "-o", "json", "--kustomize", fixtures+"kustomize/overlay")
	if code != 1 || !strings.Contains(out, `"namespace": "prod"`) || !strings.Contains(out, "pss.hostNamespaces") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestChecksCatalogue(t *testing.T) {
	code, out, _ := run(t, "", "checks")
	if code != 0 || !strings.Contains(out, "pss.privileged") || !strings.Contains(out, "env.secretLiteral") || !strings.Contains(out, "fix:") {
		t.Errorf("text catalogue: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "", "checks", "-o", "json")
	var entries []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil || len(entries) < 20 {
		t.Errorf("json catalogue: exit %d\n%s", code, out)
	}
	if code, _, _ := run(t, "", "checks", "-o", "xml"); code != 2 {
		t.Errorf("bad format: exit %d", code)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "", "version")
	if code != 0 || strings.TrimSpace(out) == "" {
		t.Errorf("exit %d, %q", code, out)
	}
}
