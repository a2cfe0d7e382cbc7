package policy

import (
	"fmt"
	"time"
)

// image.reportAge: every image's vulnerability report is recent enough to trust.
//
// Restricted: the report that image.vulnerabilities judges, for every container image or an image
// judged on its own. Active only when the policy has spec.images.vulnerabilities and a report
// source was given. A violation when maxReportAge is set and the report is older than that at
// the engine's clock, or does not say when it was made; and, when the report source requires
// one (outrider scan --require-vuln-report), when an image has no report at all. Without that,
// an image with no matching report is not a finding: scan judges the images it has reports for.
var checkImageReportAge = &Check{
	ID:          "image.reportAge",
	Title:       "Vulnerability reports recent enough",
	Severity:    SeverityHigh,
	Remediation: "Scan the image (again) and gate on the new report: vulnerabilities are published every day.",
	DefaultOn:   true,
	Standalone:  true,
	Eval: func(in *Input) []Violation {
		rules, subjects := vulnSubjects(in)
		var out []Violation
		for _, s := range subjects {
			if msg := reportAgeProblem(s, rules, in); msg != "" {
				var sev Severity
				if s.trustErr != nil && in.Images.Trust != nil && in.Images.Trust.AllowOnRegistryError {
					sev, msg = SeverityInfo, msg+" (admitted because onRegistryError is Allow)"
				}
				out = append(out, s.violation(sev, msg))
			}
		}
		return out
	},
}

func reportAgeProblem(s vulnSubject, rules *VulnerabilityRules, in *Input) string {
	if s.report == nil {
		if s.trustErr != nil {
			return fmt.Sprintf("image %q: its vulnerability report could not be read: %v", s.image, s.trustErr)
		}
		if in.ImageData != nil && in.ImageData.RequireVulnerabilityReport() {
			return fmt.Sprintf("image %q has no vulnerability report", s.image)
		}
		return ""
	}
	if rules.MaxReportAge <= 0 {
		return ""
	}
	if s.report.CreatedAt.IsZero() {
		return fmt.Sprintf("image %q: %s does not say when the scan ran, so its age cannot be checked against maxReportAge %s",
			s.image, describeReport(s.report), rules.MaxReportAge)
	}
	age := in.Now.Sub(s.report.CreatedAt)
	if age <= rules.MaxReportAge {
		return ""
	}
	return fmt.Sprintf("image %q: %s is %s old, older than maxReportAge %s",
		s.image, describeReport(s.report), roundAge(age), rules.MaxReportAge)
}

// roundAge shows an age in days and hours, or hours and minutes under a day.
func roundAge(d time.Duration) string {
	if d >= 24*time.Hour {
		days := d / (24 * time.Hour)
		return fmt.Sprintf("%dd%dh", days, (d-days*24*time.Hour)/time.Hour)
	}
	return d.Round(time.Minute).String()
}
