package policy

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	psaapi "k8s.io/pod-security-admission/api"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/imageref"
)

// Policy is a compiled SecurityPolicySpec, ready to evaluate objects. It is immutable and safe
// for concurrent use.
type Policy struct {
	// Name is the policy's metadata.name.
	Name string
	// Namespace is set for a namespaced SecurityPolicy, which only matches its own namespace.
	Namespace string
	Mode      v1alpha1.PolicyMode
	// PodSecurity is the Pod Security Standards level and version in force.
	PodSecurity psaapi.LevelVersion

	allowAnnotations bool
	match            matcher
	pss              []pssCheck
	checks           []*Check
	severity         map[string]Severity
	images           *ImageRules
	rules            []*celRule
	exceptions       []exception
}

// DefaultPolicy is what `outrider scan` enforces without --policy: Pod Security Standards
// restricted at the latest version plus every default-on Outrider check, in Enforce mode.
func DefaultPolicy() (*Policy, error) {
	return Compile("default", "", &v1alpha1.SecurityPolicySpec{})
}

// Compile validates spec and builds a Policy. Every problem is reported, each with its field
// path, in one error.
func Compile(name, namespace string, spec *v1alpha1.SecurityPolicySpec) (*Policy, error) {
	return CompileWith(name, namespace, spec, CompileOptions{})
}

// CompileWith is Compile with options for what lives outside the policy document (Secrets).
func CompileWith(name, namespace string, spec *v1alpha1.SecurityPolicySpec, opts CompileOptions) (*Policy, error) {
	root := field.NewPath("spec")
	var errs field.ErrorList
	p := &Policy{Name: name, Namespace: namespace, Mode: spec.Mode, severity: map[string]Severity{}}

	switch p.Mode {
	case "":
		p.Mode = v1alpha1.ModeEnforce
	case v1alpha1.ModeEnforce, v1alpha1.ModeWarn, v1alpha1.ModeAudit:
	default:
		errs = append(errs, field.NotSupported(root.Child("mode"), spec.Mode, []string{"Enforce", "Warn", "Audit"}))
	}
	p.allowAnnotations = spec.AllowSuppressionAnnotations == nil || *spec.AllowSuppressionAnnotations

	lv, err := compilePodSecurity(spec.PodSecurity, root.Child("podSecurity"))
	errs = append(errs, err...)
	p.PodSecurity = lv
	p.pss = selectPSSChecks(lv.Level, lv.Version)

	m, err := compileMatch(spec.Match, root.Child("match"))
	errs = append(errs, err...)
	p.match = m

	p.images = &ImageRules{PinDigests: true}
	requireDigest := false
	if spec.Images != nil {
		if spec.Images.PinDigests != nil {
			p.images.PinDigests = *spec.Images.PinDigests
		}
		t, terrs := compileTrust(spec.Images, namespace, opts, root.Child("images"))
		errs = append(errs, terrs...)
		p.images.Trust = t
		allow, aerr := imageref.ParseAllowlist(spec.Images.AllowedRegistries)
		if aerr != nil {
			errs = append(errs, field.Invalid(root.Child("images", "allowedRegistries"), spec.Images.AllowedRegistries, aerr.Error()))
		}
		p.images.Allowed = allow
		requireDigest = spec.Images.RequireDigest
		if spec.Images.Vulnerabilities != nil {
			v, verrs := compileVulnerabilities(spec.Images.Vulnerabilities, root.Child("images", "vulnerabilities"))
			errs = append(errs, verrs...)
			p.images.Vulnerabilities = v
		}
	}

	enabled, err := compileCheckSettings(spec.Checks, p, root.Child("checks"))
	errs = append(errs, err...)
	if requireDigest {
		enabled[checkImageDigest.ID] = true
	}
	for _, c := range builtinChecks {
		if on, set := enabled[c.ID]; (set && on) || (!set && c.DefaultOn) {
			p.checks = append(p.checks, c)
		}
	}
	p.pss = filterPSS(p.pss, enabled)

	for i := range spec.Rules {
		r, rerrs := compileRule(&spec.Rules[i], root.Child("rules").Index(i))
		errs = append(errs, rerrs...)
		if r != nil {
			p.rules = append(p.rules, r)
		}
	}
	for i := range spec.Exceptions {
		e, eerrs := compileException(&spec.Exceptions[i], root.Child("exceptions").Index(i))
		errs = append(errs, eerrs...)
		p.exceptions = append(p.exceptions, e)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("policy %q: %w", name, errs.ToAggregate())
	}
	return p, nil
}

func compilePodSecurity(ps *v1alpha1.PodSecuritySpec, path *field.Path) (psaapi.LevelVersion, field.ErrorList) {
	lv := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	if ps == nil {
		return lv, nil
	}
	var errs field.ErrorList
	if ps.Level != "" {
		l, err := psaapi.ParseLevel(string(ps.Level))
		if err != nil {
			errs = append(errs, field.NotSupported(path.Child("level"), ps.Level, []string{"privileged", "baseline", "restricted"}))
		}
		lv.Level = l
	}
	if ps.Version != "" {
		v, err := psaapi.ParseVersion(ps.Version)
		if err != nil {
			errs = append(errs, field.Invalid(path.Child("version"), ps.Version, `want "latest" or "v1.<minor>", like "v1.34"`))
		}
		lv.Version = v
	}
	return lv, errs
}

// compileCheckSettings reads spec.checks into on/off decisions and severity overrides.
func compileCheckSettings(settings []v1alpha1.CheckSetting, p *Policy, path *field.Path) (map[string]bool, field.ErrorList) {
	enabled := map[string]bool{}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, s := range settings {
		ip := path.Index(i)
		if seen[s.ID] {
			errs = append(errs, field.Duplicate(ip.Child("id"), s.ID))
			continue
		}
		seen[s.ID] = true
		entry, ok := Lookup(s.ID)
		if !ok {
			errs = append(errs, field.Invalid(ip.Child("id"), s.ID, "unknown check; `outrider checks` lists them"))
			continue
		}
		if s.Enabled != nil {
			if entry.Source == "pss" && *s.Enabled {
				errs = append(errs, field.Invalid(ip.Child("enabled"), true,
					"Pod Security Standards checks follow spec.podSecurity.level; a setting can only turn one off"))
			}
			enabled[s.ID] = *s.Enabled
		}
		if s.Severity != "" {
			sev, err := ParseSeverity(string(s.Severity))
			if err != nil {
				errs = append(errs, field.Invalid(ip.Child("severity"), s.Severity, err.Error()))
			}
			p.severity[s.ID] = sev
		}
	}
	return enabled, errs
}

func filterPSS(checks []pssCheck, enabled map[string]bool) []pssCheck {
	out := checks[:0:0]
	for _, c := range checks {
		if on, set := enabled[c.id]; set && !on {
			continue
		}
		out = append(out, c)
	}
	return out
}

// severityOf returns the severity of a check's findings under this policy.
func (p *Policy) severityOf(id string, def Severity) Severity {
	if s, ok := p.severity[id]; ok {
		return s
	}
	return def
}

// CheckIDs lists the checks this policy runs, for reports.
func (p *Policy) CheckIDs() []string {
	var ids []string
	for _, c := range p.pss {
		ids = append(ids, c.id)
	}
	for _, c := range p.checks {
		ids = append(ids, c.ID)
	}
	for _, r := range p.rules {
		ids = append(ids, r.id)
	}
	return ids
}

// String describes the policy for logs: "default (Enforce, restricted:latest)".
func (p *Policy) String() string {
	var b strings.Builder
	if p.Namespace != "" {
		b.WriteString(p.Namespace + "/")
	}
	fmt.Fprintf(&b, "%s (%s, %s)", p.Name, p.Mode, p.PodSecurity.String())
	return b.String()
}
