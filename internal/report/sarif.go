package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/policy"
)

// The SARIF 2.1.0 format, for code scanning (GitHub, GitLab, Azure DevOps):
//
//   - one run; tool.driver "outrider" with one rule per check ID that occurs, sorted by ID.
//     A rule's shortDescription is the catalogue title, fullDescription and help the
//     remediation, defaultConfiguration.level follows the catalogue severity, and
//     properties carry "security-severity" (critical 9.5, high 8.0, medium 5.5, low 3.0,
//     info 1.0) and the tags "security" and "kubernetes". Checks not in the catalogue
//     (custom CEL rules) get a rule built from their first finding.
//   - one result per finding, suppressed ones included with a suppression ("inSource" for
//     an annotation, "external" for a policy exception). Result level: "error" for a
//     high or critical finding of an Enforce policy (one that can block), "warning" for a
//     medium finding or a high/critical one of a Warn or Audit policy, "note" for low and
//     info.
//   - the location is the object's file and line (no region when the line is unknown), plus
//     a logical location "Kind/namespace/name/field.path" of kind "resource".
//   - partialFingerprints["outrider/v1"] hashes the check, object, container and path, not
//     the file or line, so an alert survives the manifest moving.
//   - input errors are toolExecutionNotifications of the one invocation, which is then not
//     executionSuccessful.

const (
	sarifToolName = "outrider"
	sarifToolURI  = "https://github.com/outrider-sec/outrider"
	// sarifFingerprintKey versions the fingerprint: change it if the hash's inputs change.
	sarifFingerprintKey = "outrider/v1"
)

// securitySeverity is the CVSS-like score GitHub code scanning sorts and labels alerts by.
var securitySeverity = map[policy.Severity]string{
	policy.SeverityCritical: "9.5",
	policy.SeverityHigh:     "8.0",
	policy.SeverityMedium:   "5.5",
	policy.SeverityLow:      "3.0",
	policy.SeverityInfo:     "1.0",
}

// writeSARIF renders r as an indented SARIF 2.1.0 log with a trailing newline.
func writeSARIF(w io.Writer, r *Result, opts Options) error {
	log, err := sarif.New(sarif.Version210)
	if err != nil {
		return fmt.Errorf("creating sarif log: %w", err)
	}
	run := sarif.NewRunWithInformationURI(sarifToolName, sarifToolURI)
	if opts.ToolVersion != "" {
		run.Tool.Driver.WithVersion(opts.ToolVersion)
	}
	for _, rule := range sarifRules(r.Findings) {
		run.Tool.Driver.AddRule(rule)
	}
	for i := range r.Findings {
		run.AddResult(sarifResult(&r.Findings[i]))
	}
	var notes []*sarif.Notification
	for _, e := range r.Errors {
		notes = append(notes, sarif.NewNotification().
			WithLevel("error").
			WithTextMessage(e.Message).
			WithLocations([]*sarif.Location{sarifLocation(e.File, e.Line)}))
	}
	run.AddInvocation(len(r.Errors) == 0).WithToolExecutionNotifications(notes)
	log.AddRun(run)

	data, err := json.Marshal(log)
	if err != nil {
		return fmt.Errorf("encoding sarif: %w", err)
	}
	// go-sarif writes unset suppression fields (status, location, guid) as null, which the
	// schema rejects; SARIF means "absent" by leaving a property out.
	if data, err = dropNulls(data); err != nil {
		return fmt.Errorf("encoding sarif: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return fmt.Errorf("indenting sarif: %w", err)
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// sarifRules builds one rule per check ID in findings, sorted by ID.
func sarifRules(findings []policy.Finding) []*sarif.ReportingDescriptor {
	catalog := map[string]policy.CatalogEntry{}
	for _, e := range policy.Catalog() {
		catalog[e.ID] = e
	}
	seen := map[string]bool{}
	var rules []*sarif.ReportingDescriptor
	for i := range findings {
		f := &findings[i]
		if seen[f.Check] {
			continue
		}
		seen[f.Check] = true
		e, ok := catalog[f.Check]
		if !ok {
			e = policy.CatalogEntry{ID: f.Check, Title: customTitle(f), Severity: f.Severity,
				Remediation: f.Remediation}
		}
		if e.Remediation == "" {
			e.Remediation = f.Remediation
		}
		rules = append(rules, sarifRule(e))
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	return rules
}

// customTitle names a check the catalogue does not know: a custom CEL rule of a policy.
func customTitle(f *policy.Finding) string {
	if f.Policy == "" {
		return fmt.Sprintf("Custom rule %s", f.Check)
	}
	return fmt.Sprintf("Custom rule %s of policy %s", f.Check, f.Policy)
}

func sarifRule(e policy.CatalogEntry) *sarif.ReportingDescriptor {
	rule := sarif.NewRule(e.ID).WithDescription(e.Title)
	if e.Remediation != "" {
		rule.WithFullDescription(sarif.NewMultiformatMessageString(e.Remediation)).
			WithHelp(sarif.NewMultiformatMessageString(e.Remediation))
	}
	rule.DefaultConfiguration = &sarif.ReportingConfiguration{Level: severityLevel(e.Severity)}
	props := sarif.Properties{"tags": []string{"security", "kubernetes"}}
	if s, ok := securitySeverity[e.Severity]; ok {
		props["security-severity"] = s
	}
	rule.Properties = props
	return rule
}

// severityLevel maps a severity to a SARIF level: high and critical "error", medium
// "warning", low and info "note".
func severityLevel(s policy.Severity) string {
	switch {
	case s.AtLeast(policy.SeverityHigh):
		return "error"
	case s == policy.SeverityMedium:
		return "warning"
	}
	return "note"
}

// resultLevel is severityLevel, except that a finding of a Warn or Audit policy, which
// cannot block, is at most a "warning".
func resultLevel(f *policy.Finding) string {
	level := severityLevel(f.Severity)
	if level == "error" && f.Mode != v1alpha1.ModeEnforce {
		return "warning"
	}
	return level
}

func sarifResult(f *policy.Finding) *sarif.Result {
	text := f.Message
	if f.Remediation != "" {
		text += "\nFix: " + f.Remediation
	}
	loc := sarifLocation(f.File, f.Line)
	fqn := f.Resource.Kind + "/" + objectName(f.Resource)
	if f.Path != "" {
		fqn += "/" + f.Path
	}
	loc.WithLogicalLocations([]*sarif.LogicalLocation{sarif.NewLogicalLocation().
		WithName(f.Resource.Name).WithFullyQualifiedName(fqn).WithKind("resource")})
	res := sarif.NewRuleResult(f.Check).
		WithLevel(resultLevel(f)).
		WithMessage(sarif.NewTextMessage(text)).
		WithLocations([]*sarif.Location{loc}).
		WithPartialFingerPrints(map[string]any{sarifFingerprintKey: fingerprint(f)})
	res.Properties = sarif.Properties{"severity": string(f.Severity), "mode": string(f.Mode), "policy": f.Policy}
	if s := f.Suppressed; s != nil {
		kind := "external"
		if s.By == "annotation" {
			kind = "inSource"
		}
		res.WithSuppression([]*sarif.Suppression{sarif.NewSuppression(kind).
			WithStatus("accepted").WithJustifcation(s.Reason)})
	}
	return res
}

// fingerprint is a stable hash of what identifies a finding across runs: the check, the object
// (not its apiVersion, so an API upgrade keeps the alert), the container and the field.
func fingerprint(f *policy.Finding) string {
	parts := []string{f.Check, f.Resource.Kind, f.Resource.Namespace, f.Resource.Name, f.Container, f.Path}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// sarifLocation points at a file and, when known, a line.
func sarifLocation(file string, line int) *sarif.Location {
	phys := sarif.NewPhysicalLocation().WithArtifactLocation(sarif.NewSimpleArtifactLocation(artifactURI(file)))
	if line > 0 {
		phys.WithRegion(sarif.NewRegion().WithStartLine(line))
	}
	return sarif.NewLocation().WithPhysicalLocation(phys)
}

var windowsDrive = regexp.MustCompile(`^[A-Za-z]:/`)

// artifactURI turns an input path into a URI reference: a relative path stays relative (code
// scanning resolves it against the repository root), with forward slashes and percent-encoding;
// an absolute path becomes a file URI; stdin ("-") is "stdin".
func artifactURI(file string) string {
	if file == "-" || file == "" {
		return "stdin"
	}
	p := strings.ReplaceAll(file, `\`, "/")
	if windowsDrive.MatchString(p) {
		p = "/" + p
	}
	if path.IsAbs(p) {
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	return (&url.URL{Path: p}).String()
}
