package policy

import (
	"path"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

// Target is what matching looks at: where the object lives and how it is labelled.
type Target struct {
	Kind      string
	Namespace string
	// NamespaceLabels are the labels of the object's namespace, when known.
	NamespaceLabels map[string]string
	// Labels are the workload's labels: its pod template's labels over its own.
	Labels map[string]string
}

type matcher struct {
	namespaces, excludeNamespaces []string
	namespaceSelector, selector   labels.Selector
	kinds                         map[string]bool
}

func compileMatch(m *v1alpha1.MatchSpec, p *field.Path) (matcher, field.ErrorList) {
	var out matcher
	if m == nil {
		return out, nil
	}
	var errs field.ErrorList
	out.namespaces, out.excludeNamespaces = m.Namespaces, m.ExcludeNamespaces
	for i, g := range append(append([]string{}, m.Namespaces...), m.ExcludeNamespaces...) {
		if _, err := path.Match(g, ""); err != nil {
			errs = append(errs, field.Invalid(p.Child("namespaces").Index(i), g, "bad glob: "+err.Error()))
		}
	}
	sel := func(ls *metav1.LabelSelector, name string) labels.Selector {
		if ls == nil {
			return nil
		}
		s, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			errs = append(errs, field.Invalid(p.Child(name), ls, err.Error()))
			return nil
		}
		return s
	}
	out.namespaceSelector = sel(m.NamespaceSelector, "namespaceSelector")
	out.selector = sel(m.Selector, "selector")
	if len(m.Kinds) > 0 {
		out.kinds = map[string]bool{}
		for _, k := range m.Kinds {
			out.kinds[k] = true
		}
	}
	return out, errs
}

// Matches reports whether the policy applies to t.
func (p *Policy) Matches(t Target) bool {
	if p.Namespace != "" && t.Namespace != p.Namespace {
		return false
	}
	m := p.match
	if m.kinds != nil && !m.kinds[t.Kind] {
		return false
	}
	if len(m.namespaces) > 0 && !globAny(m.namespaces, t.Namespace) {
		return false
	}
	if globAny(m.excludeNamespaces, t.Namespace) {
		return false
	}
	if m.namespaceSelector != nil && !m.namespaceSelector.Matches(labels.Set(t.NamespaceLabels)) {
		return false
	}
	if m.selector != nil && !m.selector.Matches(labels.Set(t.Labels)) {
		return false
	}
	return true
}

func globAny(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}
