package policy

import (
	"os"
	"strings"
	"testing"

	psapolicy "k8s.io/pod-security-admission/policy"
)

// Every check is listed once, documented, and has its own test file.
func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Catalog() {
		if seen[e.ID] {
			t.Errorf("%s listed twice", e.ID)
		}
		seen[e.ID] = true
		if e.Title == "" || e.Remediation == "" || e.Severity.Rank() == 0 {
			t.Errorf("%s: incomplete catalogue entry %+v", e.ID, e)
		}
	}
	for _, c := range builtinChecks {
		if c.Eval == nil {
			t.Errorf("%s has no Eval", c.ID)
		}
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var checkFiles, testFiles int
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "check_") && strings.HasSuffix(n, "_test.go") {
			testFiles++
		} else if strings.HasPrefix(n, "check") && strings.HasSuffix(n, ".go") && n != "check.go" {
			checkFiles++
		}
	}
	if checkFiles != len(builtinChecks) || testFiles != len(builtinChecks) {
		t.Errorf("%d checks listed, %d check files, %d check test files: one file and one test per check",
			len(builtinChecks), checkFiles, testFiles)
	}
}

// An upstream Pod Security Standards check that Outrider does not describe yet fails here, so
// an upgrade of k8s.io/pod-security-admission cannot add a check with a generic description.
func TestEveryUpstreamCheckIsDescribed(t *testing.T) {
	for _, c := range psapolicy.DefaultChecks() {
		if _, ok := pssCatalog[string(c.ID)]; !ok {
			t.Errorf("upstream check %q has no entry in pssCatalog", c.ID)
		}
	}
}
