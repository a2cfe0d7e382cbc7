package policy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
	"github.com/outrider-sec/outrider/internal/imagetrust/vuln"
)

// VulnerabilityRules are a policy's compiled spec.images.vulnerabilities.
type VulnerabilityRules struct {
	// FailOn is the lowest severity that counts (default high).
	FailOn Severity
	// IgnoreUnfixed drops vulnerabilities without a fixed version.
	IgnoreUnfixed bool
	// MaxReportAge is the oldest a report may be; 0 means no limit.
	MaxReportAge time.Duration
	// MaxCVSS makes any vulnerability with a CVSS score at least this count; 0 means unset.
	MaxCVSS float64
	// Allow lists accepted vulnerabilities.
	Allow []VulnerabilityAllowance
}

// VulnerabilityAllowance is one compiled spec.images.vulnerabilities.allow entry.
type VulnerabilityAllowance struct {
	ID, Reason string
	// Expires is zero for an allowance that never expires.
	Expires   time.Time
	ExpiresAs string
}

// Vulnerabilities returns the policy's vulnerability gate, nil when it has none.
func (p *Policy) Vulnerabilities() *VulnerabilityRules { return p.images.Vulnerabilities }

func compileVulnerabilities(v *v1alpha1.VulnerabilityPolicy, path *field.Path) (*VulnerabilityRules, field.ErrorList) {
	var errs field.ErrorList
	out := &VulnerabilityRules{FailOn: SeverityHigh, IgnoreUnfixed: v.IgnoreUnfixed}
	if v.FailOn != "" {
		sev, err := ParseSeverity(string(v.FailOn))
		if err != nil {
			errs = append(errs, field.NotSupported(path.Child("failOn"), v.FailOn, []string{"critical", "high", "medium", "low", "info"}))
		}
		out.FailOn = sev
	}
	if v.MaxReportAge != "" {
		d, err := parseAge(v.MaxReportAge)
		if err != nil {
			errs = append(errs, field.Invalid(path.Child("maxReportAge"), v.MaxReportAge, err.Error()))
		}
		out.MaxReportAge = d
	}
	if v.MaxCVSS != nil {
		f, err := strconv.ParseFloat(strings.TrimSpace(string(*v.MaxCVSS)), 64)
		if err != nil || math.IsNaN(f) || f <= 0 || f > 10 {
			errs = append(errs, field.Invalid(path.Child("maxCVSS"), string(*v.MaxCVSS), "want a CVSS score above 0 and at most 10, like 9.0"))
		}
		out.MaxCVSS = f
	}
	for i, a := range v.Allow {
		ap := path.Child("allow").Index(i)
		entry := VulnerabilityAllowance{ID: strings.TrimSpace(a.ID), Reason: strings.TrimSpace(a.Reason), ExpiresAs: a.Expires}
		if entry.ID == "" {
			errs = append(errs, field.Required(ap.Child("id"), "name the vulnerability, like CVE-2024-3094"))
		}
		if entry.Reason == "" {
			errs = append(errs, field.Required(ap.Child("reason"), "say why the vulnerability is acceptable"))
		}
		if a.Expires != "" {
			t, err := parseExpiry(a.Expires)
			if err != nil {
				errs = append(errs, field.Invalid(ap.Child("expires"), a.Expires, err.Error()))
			}
			entry.Expires = t
		}
		out.Allow = append(out.Allow, entry)
	}
	return out, errs
}

// parseAge reads a Go duration ("168h", "90m") or whole days ("7d"); it must be positive.
func parseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n > 100000 {
			return 0, fmt.Errorf(`want a duration like "168h" or "7d"`)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf(`want a duration like "168h" or "7d"`)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be longer than zero")
	}
	return d, nil
}

// countedVuln is a vulnerability that counts against an image, at the severity it counts at.
type countedVuln struct {
	vuln.Finding
	severity Severity
}

// count returns the report's remaining findings that count under the rules at now, and notes on
// allowances that would have excused one of them had they not expired.
func (r *VulnerabilityRules) count(rep *vuln.EvaluatedReport, now time.Time) (counted []countedVuln, expired []string) {
	for _, f := range rep.Remaining {
		a := r.allowance(f)
		if a != nil && (a.Expires.IsZero() || !now.After(a.Expires)) {
			continue
		}
		if r.IgnoreUnfixed && !f.Fixed() {
			continue
		}
		sev := Severity(f.Severity)
		byCVSS := r.MaxCVSS > 0 && f.CVSS >= r.MaxCVSS
		if byCVSS {
			if rating := Severity(vuln.CVSSRating(f.CVSS)); rating.Rank() > sev.Rank() {
				sev = rating
			}
		}
		if !byCVSS && !sev.AtLeast(r.FailOn) {
			continue
		}
		counted = append(counted, countedVuln{Finding: f, severity: sev})
		if a != nil {
			expired = append(expired, fmt.Sprintf("%s (expired %s)", a.ID, a.ExpiresAs))
		}
	}
	return counted, expired
}

// allowance returns the allow entry for the finding's ID or one of its aliases.
func (r *VulnerabilityRules) allowance(f vuln.Finding) *VulnerabilityAllowance {
	for i := range r.Allow {
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			if strings.EqualFold(r.Allow[i].ID, id) {
				return &r.Allow[i]
			}
		}
	}
	return nil
}

// vulnSubject is one image a vulnerability check judges: a container's, or an image on its own.
type vulnSubject struct {
	at     Violation // where a violation points: the container's image field, or nothing
	image  string
	report *vuln.EvaluatedReport
	// trustErr is why the registry could not be asked for the image's report, if it could not.
	trustErr error
}

// vulnSubjects lists what the vulnerability checks judge: nothing when the policy has no gate
// or no report source was given; the image judged on its own; or every container whose image
// parses (image.registry reports the others), with its report if one matches.
func vulnSubjects(in *Input) (*VulnerabilityRules, []vulnSubject) {
	if in.Images == nil || in.Images.Vulnerabilities == nil {
		return nil, nil
	}
	if in.Image != nil {
		return in.Images.Vulnerabilities, []vulnSubject{{image: in.Image.Name, report: in.Image.Report}}
	}
	if in.ImageData == nil {
		return nil, nil
	}
	var out []vulnSubject
	for _, c := range in.Containers {
		ref, err := parsedImage(c)
		if err != nil {
			continue
		}
		s := vulnSubject{
			at:     containerViolation(c, "image", ""),
			image:  c.Container.Image,
			report: in.ImageData.VulnerabilityReport(ref),
		}
		if s.report == nil {
			s.report, s.trustErr = attestedReport(in, ref)
		}
		out = append(out, s)
	}
	return in.Images.Vulnerabilities, out
}

// attestedReport is the newest vulnerability report attested (cosign's vuln predicate) for
// the image's digest and signed by an authority the policy trusts for reports: those of
// spec.images.vulnerabilities.authorities, else those of the signature rules matching ref.
// The front end's VEX documents apply. It returns the registry's error when it had one.
func attestedReport(in *Input, ref imageref.Reference) (*vuln.EvaluatedReport, error) {
	t := in.ImageData.Trust(ref)
	if t == nil {
		return nil, nil
	}
	if t.Err != nil {
		return nil, t.Err
	}
	auths := in.Images.Trust.VulnAuthorities
	key := fmt.Sprintf("vuln|%p|", in.ImageData.VEX()) // new VEX documents, new report
	if len(auths) == 0 {
		for _, r := range in.Images.Trust.Signatures {
			if r.Images.Matches(ref) {
				auths = append(auths, r.Authorities...)
				key += fmt.Sprintf("%p,", r)
			}
		}
	}
	if len(auths) == 0 {
		return nil, nil
	}
	rep := t.remember(key, func() any {
		res := t.Evidence.VerifyAttestations(signature.PredicateTypeURI("vuln"), auths, in.Now)
		var newest *vuln.EvaluatedReport
		for _, st := range res.Statements {
			r, err := vuln.ParseVerifiedPredicate(st.Predicate, ref.Name(), t.Digest)
			if err != nil {
				continue
			}
			source := fmt.Sprintf("attestation by %s", strings.Join(st.Signers, ", "))
			if newest == nil || r.CreatedAt.After(newest.CreatedAt) {
				newest = vuln.Evaluate(r, source, in.ImageData.VEX())
			}
		}
		return newest
	})
	return rep.(*vuln.EvaluatedReport), nil
}

// violation is a violation at the subject's place.
func (s vulnSubject) violation(sev Severity, msg string) Violation {
	v := s.at
	v.Severity, v.Message = sev, msg
	return v
}

// describeReport names a report for messages: "the trivy 0.57.1 report of 2026-11-20 (api.json)".
func describeReport(r *vuln.EvaluatedReport) string {
	s := "the"
	if r.Scanner != "" {
		s += " " + r.Scanner
	}
	s += " report"
	if !r.CreatedAt.IsZero() {
		s += " of " + r.CreatedAt.UTC().Format(time.DateOnly)
	}
	if r.Source != "" {
		s += " (" + r.Source + ")"
	}
	return s
}
