package report

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/owenrumney/go-sarif/v2/sarif"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/outrider-sec/outrider/internal/policy"
)

const sarifSchemaPath = "shared/schemas/sarif-2.1.0.json"

// findSARIFSchema walks up from the working directory looking for shared/schemas/sarif-2.1.0.json
// beside the repository (CI clones the repository with shared/ next to it). It fails the test,
// listing where it looked, when the schema is nowhere.
func findSARIFSchema(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var looked []string
	for {
		candidate := filepath.Join(dir, filepath.FromSlash(sarifSchemaPath))
		looked = append(looked, candidate)
		if _, err := os.Stat(candidate); err == nil {
			return candidate
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	t.Fatalf("SARIF schema not found; the repository must have shared/ beside it. Looked at:\n  %s",
		strings.Join(looked, "\n  "))
	return ""
}

// drafts maps the $schema a schema may declare to the draft to compile it with.
var drafts = map[string]*jsonschema.Draft{
	"http://json-schema.org/draft-04/schema#":      jsonschema.Draft4,
	"http://json-schema.org/draft-06/schema#":      jsonschema.Draft6,
	"http://json-schema.org/draft-07/schema#":      jsonschema.Draft7,
	"https://json-schema.org/draft/2019-09/schema": jsonschema.Draft2019,
	"https://json-schema.org/draft/2020-12/schema": jsonschema.Draft2020,
}

// compileSARIFSchema compiles the schema file offline: it is added under its file URL, and its
// declared draft (draft-04 for the SARIF 2.1.0 schema, which names itself with "id") is used.
func compileSARIFSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path := findSARIFSchema(t)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	declared, _ := doc.(map[string]any)["$schema"].(string)
	draft, ok := drafts[declared]
	if !ok {
		t.Fatalf("%s declares an unknown $schema %q", path, declared)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(draft)
	c.AssertFormat()
	c.UseLoader(jsonschema.FileLoader{}) // never the network
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	loc := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	if err := c.AddResource(loc, doc); err != nil {
		t.Fatalf("adding %s: %v", loc, err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		t.Fatalf("compiling %s: %v", loc, err)
	}
	return sch
}

func renderSARIF(t *testing.T, r *Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, "sarif", r, Options{ToolVersion: testVersion}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	sch := compileSARIFSchema(t)
	results := map[string]*Result{"rich": richResult(), "fail": failResult(), "pass": passResult(), "empty": emptyResult()}
	for name, r := range results {
		t.Run(name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(renderSARIF(t, r)))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(inst); err != nil {
				t.Errorf("SARIF does not validate:\n%v", err)
			}
		})
	}
	// The validator must catch a broken log, or the test above proves nothing.
	broken := strings.Replace(string(renderSARIF(t, richResult())), `"level": "error"`, `"level": "fatal"`, 1)
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(broken))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err == nil {
		t.Error("a result with level fatal validated")
	}
}

func decodeSARIF(t *testing.T, r *Result) *sarif.Report {
	t.Helper()
	log, err := sarif.FromBytes(renderSARIF(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(log.Runs))
	}
	return log
}

func TestSARIFRules(t *testing.T) {
	run := decodeSARIF(t, richResult()).Runs[0]
	driver := run.Tool.Driver
	if driver.Name != "outrider" || *driver.InformationURI != sarifToolURI || *driver.Version != testVersion {
		t.Errorf("driver = %s %s %s", driver.Name, *driver.InformationURI, *driver.Version)
	}
	type rule struct{ ID, Short, Full, Level, SecSev string }
	var got []rule
	for _, r := range driver.Rules {
		got = append(got, rule{r.ID, *r.ShortDescription.Text, *r.FullDescription.Text,
			r.DefaultConfiguration.Level, r.Properties["security-severity"].(string)})
		if diff := cmp.Diff([]any{"security", "kubernetes"}, r.Properties["tags"]); diff != "" {
			t.Errorf("rule %s tags (-want +got):\n%s", r.ID, diff)
		}
	}
	entry := func(id string) policy.CatalogEntry { e, _ := policy.Lookup(id); return e }
	cat := func(id, level, secSev string) rule {
		e := entry(id)
		return rule{id, e.Title, e.Remediation, level, secSev}
	}
	want := []rule{
		cat("container.resources", "note", "3.0"),
		{"custom.team-label", "Custom rule custom.team-label of policy team-rules",
			"Add the label team: <name> to metadata.labels.", "error", "8.0"},
		cat("image.latest", "warning", "5.5"),
		cat("image.registry", "error", "8.0"),
		cat("pod.automountServiceAccountToken", "note", "3.0"), // the catalogue says low,
		cat("pss.privileged", "error", "9.5"),
		cat("pss.runAsNonRoot", "error", "8.0"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	for _, res := range run.Results {
		if i := *res.RuleIndex; driver.Rules[i].ID != *res.RuleID {
			t.Errorf("result %s has ruleIndex %d, the rule %s", *res.RuleID, i, driver.Rules[i].ID)
		}
	}
}

func TestSARIFResults(t *testing.T) {
	run := decodeSARIF(t, richResult()).Runs[0]
	type result struct{ Rule, Level, URI, FQN, Suppression string }
	var got []result
	for _, r := range run.Results {
		loc := r.Locations[0]
		uri := *loc.PhysicalLocation.ArtifactLocation.URI
		if loc.PhysicalLocation.Region != nil {
			uri += fmt.Sprintf(":%d", *loc.PhysicalLocation.Region.StartLine)
		}
		var supp string
		if len(r.Suppressions) == 1 {
			s := r.Suppressions[0]
			supp = s.Kind + ": " + *s.Justification
		}
		ll := loc.LogicalLocations[0]
		if *ll.Kind != "resource" {
			t.Errorf("logical location kind %q", *ll.Kind)
		}
		got = append(got, result{*r.RuleID, *r.Level, uri, *ll.FullyQualifiedName, supp})
	}
	want := []result{
		{"pss.privileged", "error", "manifests/web.yaml:12", "Deployment/shop/web/spec.template.spec.containers[0].securityContext.privileged", ""},
		{"image.latest", "warning", "manifests/web.yaml:12", "Deployment/shop/web/spec.template.spec.containers[0].image", ""},
		{"pss.runAsNonRoot", "error", "manifests/web.yaml:12", "Deployment/shop/web/spec.template.spec.securityContext.runAsNonRoot",
			"inSource: legacy image, tracked in SHOP-123"},
		{"container.resources", "note", "charts/my%20app/pod.yaml:1", "Pod/default/debug/spec.template.spec.containers[0].resources", ""},
		{"image.registry", "error", "charts/my%20app/pod.yaml:1", "Pod/default/debug/spec.template.spec.containers[0].image",
			"external: debug pods may use busybox until 2027-01-01"},
		{"custom.team-label", "error", "charts/my%20app/pod.yaml:1", "Pod/default/debug/metadata.labels", ""},
		{"pod.automountServiceAccountToken", "note", "stdin", "Job/batch/report/spec.template.spec.automountServiceAccountToken", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	msg := *run.Results[0].Message.Text
	if want := "privileged container \"app\"\nFix: Remove securityContext.privileged or set it to false."; msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}
}

func TestSARIFInvocation(t *testing.T) {
	inv := decodeSARIF(t, richResult()).Runs[0].Invocations[0]
	if *inv.ExecutionSuccessful {
		t.Error("executionSuccessful with an input error")
	}
	if len(inv.ToolExecutionNotifications) != 1 {
		t.Fatalf("%d notifications, want 1", len(inv.ToolExecutionNotifications))
	}
	n := inv.ToolExecutionNotifications[0]
	phys := n.Locations[0].PhysicalLocation
	if n.Level != "error" || *n.Message.Text != "yaml: line 3: mapping values are not allowed in this context" ||
		*phys.ArtifactLocation.URI != "manifests/bad.yaml" || *phys.Region.StartLine != 3 {
		t.Errorf("notification = %s %q at %s:%d", n.Level, *n.Message.Text, *phys.ArtifactLocation.URI, *phys.Region.StartLine)
	}
	clean := decodeSARIF(t, passResult()).Runs[0].Invocations[0]
	if !*clean.ExecutionSuccessful || len(clean.ToolExecutionNotifications) != 0 {
		t.Error("a clean scan is not executionSuccessful, or has notifications")
	}
}

// TestSARIFFingerprints: the same finding fingerprints the same across runs and files; a
// different container, path, object or check does not.
func TestSARIFFingerprints(t *testing.T) {
	base := finding("image.latest", policy.SeverityMedium, inContainer("app", 0, "image"))
	base.Resource = policy.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"}
	base.File, base.Line = "a.yaml", 3
	fp := fingerprint(&base)
	same := base
	same.File, same.Line, same.Message, same.Resource.APIVersion = "moved/b.yaml", 99, "reworded", "apps/v2"
	if got := fingerprint(&same); got != fp {
		t.Errorf("moving the finding changed its fingerprint: %s != %s", got, fp)
	}
	for name, change := range map[string]func(*policy.Finding){
		"check":     func(f *policy.Finding) { f.Check = "image.digest" },
		"kind":      func(f *policy.Finding) { f.Resource.Kind = "StatefulSet" },
		"namespace": func(f *policy.Finding) { f.Resource.Namespace = "other" },
		"name":      func(f *policy.Finding) { f.Resource.Name = "api" },
		"container": func(f *policy.Finding) { f.Container = "sidecar" },
		"path":      func(f *policy.Finding) { f.Path = "spec.template.spec.containers[1].image" },
		"boundary":  func(f *policy.Finding) { f.Resource.Namespace, f.Resource.Name = "sho", "pweb" },
	} {
		f := base
		change(&f)
		if fingerprint(&f) == fp {
			t.Errorf("changing the %s kept the fingerprint", name)
		}
	}
	// The rendered fingerprint is the same in two renderings of the same result.
	a := decodeSARIF(t, richResult()).Runs[0].Results
	b := decodeSARIF(t, richResult()).Runs[0].Results
	for i := range a {
		if a[i].PartialFingerprints[sarifFingerprintKey] != b[i].PartialFingerprints[sarifFingerprintKey] {
			t.Errorf("result %d: fingerprint differs between runs", i)
		}
	}
}

func TestSARIFHasNoNulls(t *testing.T) {
	if out := renderSARIF(t, richResult()); bytes.Contains(out, []byte("null")) {
		t.Errorf("SARIF contains null:\n%s", out)
	}
}

func TestArtifactURI(t *testing.T) {
	tests := map[string]string{
		"-":                      "stdin",
		"":                       "stdin",
		"manifests/web.yaml":     "manifests/web.yaml",
		"./manifests/web.yaml":   "./manifests/web.yaml",
		`manifests\win\web.yaml`: "manifests/win/web.yaml",
		"my app/web.yaml":        "my%20app/web.yaml",
		"a:b.yaml":               "./a:b.yaml",
		"100%.yaml":              "100%25.yaml",
		"/abs/web.yaml":          "file:///abs/web.yaml",
		`C:\repo\web.yaml`:       "file:///C:/repo/web.yaml",
	}
	for in, want := range tests {
		if got := artifactURI(in); got != want {
			t.Errorf("artifactURI(%q) = %q, want %q", in, got, want)
		}
	}
}
