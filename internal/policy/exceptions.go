package policy

import (
	"fmt"
	"path"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

// Annotations a workload can carry to silence checks, when its policy allows it.
const (
	// AnnotationIgnore lists check IDs (or prefixes ending in *, like "pss.*"), comma separated.
	AnnotationIgnore = "security.outrider.dev/ignore"
	// AnnotationIgnoreReason says why; without it the ignore annotation is not honoured.
	AnnotationIgnoreReason = "security.outrider.dev/ignore-reason"
)

type exception struct {
	checks    []string
	resources []v1alpha1.ResourceRef
	reason    string
	expires   time.Time // zero: never
	expiresAs string    // as written
}

func compileException(e *v1alpha1.Exception, p *field.Path) (exception, field.ErrorList) {
	var errs field.ErrorList
	out := exception{checks: e.Checks, resources: e.Resources, reason: e.Reason, expiresAs: e.Expires}
	if len(e.Checks) == 0 {
		errs = append(errs, field.Required(p.Child("checks"), "name the checks, or \"*\""))
	}
	if len(e.Resources) == 0 {
		errs = append(errs, field.Required(p.Child("resources"), "name the workloads the exception is for"))
	}
	if strings.TrimSpace(e.Reason) == "" {
		errs = append(errs, field.Required(p.Child("reason"), "say why the exception is safe"))
	}
	if e.Expires != "" {
		t, err := parseExpiry(e.Expires)
		if err != nil {
			errs = append(errs, field.Invalid(p.Child("expires"), e.Expires, err.Error()))
		}
		out.expires = t
	}
	return out, errs
}

// parseExpiry accepts an RFC 3339 time or a date; a date expires at the end of that day (UTC).
func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.Add(24 * time.Hour), nil
	}
	return time.Time{}, fmt.Errorf("want an RFC 3339 time or a date like 2027-01-31")
}

func (e *exception) covers(check string, kind, namespace, name string) bool {
	if !matchCheck(e.checks, check) {
		return false
	}
	for _, r := range e.resources {
		if (r.Kind == "" || r.Kind == kind) && globOrEmpty(r.Namespace, namespace) && globOrEmpty(r.Name, name) {
			return true
		}
	}
	return false
}

func globOrEmpty(g, s string) bool {
	if g == "" {
		return true
	}
	ok, _ := path.Match(g, s)
	return ok
}

// matchCheck reports whether check is named in ids, exactly, by "*", or by a prefix glob like "pss.*".
func matchCheck(ids []string, check string) bool {
	for _, id := range ids {
		id = strings.TrimSpace(id)
		switch {
		case id == "*" || id == check:
			return true
		case strings.HasSuffix(id, "*") && strings.HasPrefix(check, strings.TrimSuffix(id, "*")):
			return true
		}
	}
	return false
}

// suppress decides whether a finding is silenced, by a policy exception first, then by the
// workload's annotations (on the object or its pod template) when the policy allows them.
func (p *Policy) suppress(f *Finding, in *Input, now time.Time) {
	for i := range p.exceptions {
		e := &p.exceptions[i]
		if !e.covers(f.Check, f.Resource.Kind, f.Resource.Namespace, f.Resource.Name) {
			continue
		}
		if !e.expires.IsZero() && now.After(e.expires) {
			f.Message += fmt.Sprintf(" (policy exception expired %s)", e.expiresAs)
			continue
		}
		f.Suppressed = &Suppression{By: "exception", Reason: e.reason}
		return
	}
	if !p.allowAnnotations {
		return
	}
	for _, ann := range annotationSets(in) {
		ids, ok := ann[AnnotationIgnore]
		if !ok || !matchCheck(strings.Split(ids, ","), f.Check) {
			continue
		}
		reason := strings.TrimSpace(ann[AnnotationIgnoreReason])
		if reason == "" {
			f.Message += " (the " + AnnotationIgnore + " annotation is not honoured without " + AnnotationIgnoreReason + ")"
			return
		}
		f.Suppressed = &Suppression{By: "annotation", Reason: reason}
		return
	}
}

func annotationSets(in *Input) []map[string]string {
	sets := []map[string]string{in.Object.Annotations}
	if in.Template != nil && in.Template.Meta != nil && in.Template.Meta.Annotations != nil {
		sets = append(sets, in.Template.Meta.Annotations)
	}
	return sets
}
