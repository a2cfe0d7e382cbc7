package policy

import (
	"fmt"
	"sort"
	"strings"
)

// image.vulnerabilities: no image runs with vulnerabilities the policy does not accept.
//
// Restricted: the image of every container (all three lists), judged by the vulnerability report
// that matches it (ImageData: digest first, then repository and tag), or an image judged on its
// own. Active only when the policy has spec.images.vulnerabilities and a report source was
// given. A vulnerability counts unless an OpenVEX statement removed it (applied before the
// engine), an unexpired allow entry names its ID or an alias, or ignoreUnfixed is set and no fix
// is known; it must then be at or above failOn, or have a CVSS score of at least maxCVSS (it then
// counts at least at its CVSS rating). One violation per image, at the worst counted severity,
// listing at most five of the worst IDs and how many have a fix. An image without a report is
// image.reportAge's concern.
var checkImageVulnerabilities = &Check{
	ID:       "image.vulnerabilities",
	Title:    "Images below the vulnerability threshold",
	Severity: SeverityHigh,
	Remediation: "Rebuild the image on the fixed package versions, or record why a vulnerability does not apply " +
		"in an OpenVEX document or in spec.images.vulnerabilities.allow.",
	DefaultOn:  true,
	Standalone: true,
	Eval: func(in *Input) []Violation {
		rules, subjects := vulnSubjects(in)
		var out []Violation
		for _, s := range subjects {
			if s.report == nil {
				continue
			}
			counted, expired := rules.count(s.report, in.Now)
			if len(counted) == 0 {
				continue
			}
			sortWorstFirst(counted)
			out = append(out, s.violation(counted[0].severity, vulnMessage(s, rules, counted, expired)))
		}
		return out
	},
}

// maxListed is how many vulnerabilities a message names.
const maxListed = 5

func sortWorstFirst(vs []countedVuln) {
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := vs[i], vs[j]
		switch {
		case a.severity.Rank() != b.severity.Rank():
			return a.severity.Rank() > b.severity.Rank()
		case a.CVSS != b.CVSS:
			return a.CVSS > b.CVSS
		case a.Fixed() != b.Fixed():
			return a.Fixed()
		}
		return a.ID < b.ID
	})
}

// vulnMessage: `image "x": 4 vulnerabilities at or above high (2 critical, 2 high) in the trivy
// 0.57.1 report of 2026-11-20 (api.json): CVE-1 (critical, libexpat1 2.5.0-1, fixed in 2.5.0-2),
// …, +1 more; 3 of 4 have a fix`.
func vulnMessage(s vulnSubject, rules *VulnerabilityRules, counted []countedVuln, expired []string) string {
	var b strings.Builder
	noun := "vulnerabilities"
	if len(counted) == 1 {
		noun = "vulnerability"
	}
	threshold := "at or above " + string(rules.FailOn)
	if rules.MaxCVSS > 0 {
		threshold += fmt.Sprintf(" or with CVSS %g or more", rules.MaxCVSS)
	}
	fmt.Fprintf(&b, "image %q: %d %s %s (%s) in %s: ", s.image, len(counted), noun, threshold, bySeverity(counted), describeReport(s.report))
	fixed := 0
	for i, v := range counted {
		if v.Fixed() {
			fixed++
		}
		if i < maxListed {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(describeVuln(v))
		}
	}
	if len(counted) > maxListed {
		fmt.Fprintf(&b, ", +%d more", len(counted)-maxListed)
	}
	switch {
	case fixed == len(counted) && fixed == 1:
		b.WriteString("; it has a fix")
	case fixed == len(counted):
		b.WriteString("; all have a fix")
	case fixed == 0:
		b.WriteString("; none has a fix yet")
	default:
		fmt.Fprintf(&b, "; %d of %d have a fix", fixed, len(counted))
	}
	if len(expired) > 0 {
		b.WriteString("; allow entries expired: " + strings.Join(expired, ", "))
	}
	return b.String()
}

func describeVuln(v countedVuln) string {
	var parts []string
	parts = append(parts, string(v.severity))
	if pkg := strings.TrimSpace(v.Package + " " + v.InstalledVersion); pkg != "" {
		parts = append(parts, pkg)
	}
	if v.Fixed() {
		parts = append(parts, "fixed in "+v.FixedVersion)
	} else {
		parts = append(parts, "no fix")
	}
	return v.ID + " (" + strings.Join(parts, ", ") + ")"
}

// bySeverity counts per severity, worst first: "2 critical, 1 high".
func bySeverity(vs []countedVuln) string {
	n := map[Severity]int{}
	for _, v := range vs {
		n[v.severity]++
	}
	var parts []string
	for _, sev := range Severities {
		if n[sev] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[sev], sev))
		}
	}
	return strings.Join(parts, ", ")
}
