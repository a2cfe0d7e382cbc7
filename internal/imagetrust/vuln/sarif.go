package vuln

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/owenrumney/go-sarif/v2/sarif"
)

// parseSARIF reads SARIF 2.1.0 from an image scanner. Every run must be about the same image,
// named (first match wins) by run.properties.imageName (Trivy writes it; repoDigests gives the
// digest), run.properties.image or run.properties.artifactName, run.automationDetails.id, or a
// result location's logicalLocations entry of kind "image". The scan time is the first
// invocation's endTimeUtc (else startTimeUtc). A finding's severity comes from its rule: a
// severity word among properties.tags (Trivy), else properties["security-severity"] (a CVSS
// score, also kept as the finding's CVSS), else the result's or the rule's level (error high,
// warning medium, note low, none info). Package and versions come from Trivy's message lines
// "Package:", "Installed Version:" and "Fixed Version:" when present.
func parseSARIF(data []byte) (*Report, error) {
	doc, err := sarif.FromBytes(data)
	if err != nil {
		return nil, fmt.Errorf("SARIF: %w", err)
	}
	if doc.Version != "2.1.0" {
		return nil, fmt.Errorf("SARIF: version %q is not supported (want 2.1.0)", doc.Version)
	}
	r := &Report{Format: "sarif"}
	for i, run := range doc.Runs {
		if run == nil {
			continue
		}
		if err := readSARIFRun(r, run, fmt.Sprintf("runs[%d]", i)); err != nil {
			return nil, fmt.Errorf("SARIF: %w", err)
		}
	}
	if err := finishArtifact(&r.Artifact); err != nil {
		return nil, fmt.Errorf("SARIF: %w (set runs[].properties.imageName or runs[].automationDetails.id)", err)
	}
	return r, nil
}

func readSARIFRun(r *Report, run *sarif.Run, path string) error {
	name, digest := sarifArtifact(run)
	switch {
	case name == "" && digest == "":
	case r.Artifact.Name == "" && r.Artifact.Digest == "":
		r.Artifact = Artifact{Name: name, Digest: digest}
	case name != r.Artifact.Name || digest != r.Artifact.Digest:
		return fieldError(path, "is about %q, another run about %q: one report holds one image", name, r.Artifact.Label())
	}
	if driver := run.Tool.Driver; driver != nil && r.Scanner == "" {
		r.Scanner = driver.Name
		if driver.Version != nil {
			r.Scanner += " " + *driver.Version
		}
	}
	if len(run.Invocations) > 0 && run.Invocations[0] != nil && r.CreatedAt.IsZero() {
		inv := run.Invocations[0]
		if inv.EndTimeUTC != nil {
			r.CreatedAt = *inv.EndTimeUTC
		} else if inv.StartTimeUTC != nil {
			r.CreatedAt = *inv.StartTimeUTC
		}
	}
	rules := map[string]*sarif.ReportingDescriptor{}
	var ruleList []*sarif.ReportingDescriptor
	if run.Tool.Driver != nil {
		ruleList = run.Tool.Driver.Rules
	}
	for _, rule := range ruleList {
		if rule != nil {
			rules[rule.ID] = rule
		}
	}
	for j, res := range run.Results {
		if res == nil {
			continue
		}
		id := ""
		if res.RuleID != nil {
			id = *res.RuleID
		} else if res.RuleIndex != nil && int(*res.RuleIndex) < len(ruleList) && ruleList[*res.RuleIndex] != nil {
			id = ruleList[*res.RuleIndex].ID
		}
		if strings.TrimSpace(id) == "" {
			return fieldError(fmt.Sprintf("%s.results[%d]", path, j), "no ruleId")
		}
		r.Findings = append(r.Findings, sarifFinding(id, rules[id], res))
	}
	return nil
}

func sarifArtifact(run *sarif.Run) (name, digest string) {
	props := run.Properties
	for _, k := range []string{"imageName", "image", "artifactName"} {
		if s, ok := props[k].(string); ok && s != "" {
			name = s
			break
		}
	}
	if list, ok := props["repoDigests"].([]any); ok {
		var rds []string
		for _, v := range list {
			if s, ok := v.(string); ok {
				rds = append(rds, s)
			}
		}
		digest = pickRepoDigest(name, rds)
	}
	if name == "" && run.AutomationDetails != nil && run.AutomationDetails.ID != nil {
		name = *run.AutomationDetails.ID
	}
	if name == "" {
		name = sarifImageLocation(run)
	}
	return name, digest
}

// sarifImageLocation finds a logical location of kind "image" among the results' locations.
func sarifImageLocation(run *sarif.Run) string {
	for _, res := range run.Results {
		if res == nil {
			continue
		}
		for _, loc := range res.Locations {
			if loc == nil {
				continue
			}
			for _, ll := range loc.LogicalLocations {
				if ll == nil || ll.Kind == nil || *ll.Kind != "image" {
					continue
				}
				if ll.FullyQualifiedName != nil {
					return *ll.FullyQualifiedName
				}
				if ll.Name != nil {
					return *ll.Name
				}
			}
		}
	}
	return ""
}

func sarifFinding(id string, rule *sarif.ReportingDescriptor, res *sarif.Result) Finding {
	f := Finding{ID: id}
	if res.Message.Text != nil {
		for _, line := range strings.Split(*res.Message.Text, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "Package":
				f.Package = strings.TrimSpace(v)
			case "Installed Version":
				f.InstalledVersion = strings.TrimSpace(v)
			case "Fixed Version":
				f.FixedVersion = strings.TrimSpace(v)
			}
		}
	}
	level := ""
	if res.Level != nil {
		level = *res.Level
	}
	f.Severity, f.CVSS = sarifSeverity(rule, level)
	return f
}

func sarifSeverity(rule *sarif.ReportingDescriptor, resultLevel string) (Severity, float64) {
	var props map[string]any
	if rule != nil {
		props = rule.Properties
	}
	score, _ := securitySeverity(props["security-severity"])
	if tags, ok := props["tags"].([]any); ok {
		for _, t := range tags {
			if word, ok := t.(string); ok {
				if sev, ok := severityWord(word); ok {
					return sev, score
				}
			}
		}
	}
	if score > 0 {
		return CVSSRating(score), score
	}
	if resultLevel == "" && rule != nil && rule.DefaultConfiguration != nil {
		resultLevel = rule.DefaultConfiguration.Level
	}
	switch resultLevel {
	case "error":
		return SeverityHigh, 0
	case "warning", "":
		return SeverityMedium, 0 // SARIF's default level is warning
	case "note":
		return SeverityLow, 0
	}
	return SeverityInfo, 0
}

// securitySeverity reads GitHub's "security-severity" property, a CVSS score as a string or number.
func securitySeverity(v any) (float64, error) {
	switch s := v.(type) {
	case float64:
		return cleanScore(s), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		return cleanScore(f), err
	case nil:
		return 0, nil
	}
	return 0, errors.New("security-severity is neither a number nor a string")
}
