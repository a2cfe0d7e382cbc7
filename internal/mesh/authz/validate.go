package authz

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidPolicy is wrapped by every error Validate and Parse return.
var ErrInvalidPolicy = errors.New("invalid access policy")

// Limits keep a pushed policy small enough to evaluate on every connection and request.
const (
	MaxRules             = 1024
	maxPortsPerRule      = 128
	maxPrincipalsPerRule = 256
	maxProvenance        = 16
	maxMethods           = 32
	maxPathPrefixes      = 64
	maxNameLen           = 320 // "namespace/name#index": 63 + 1 + 253 + a little
	maxStringLen         = 1024
)

// Validate checks every field and returns an error wrapping ErrInvalidPolicy that names the
// first bad one.
func (p *Policy) Validate() error {
	if p == nil {
		return fmt.Errorf("%w: no policy", ErrInvalidPolicy)
	}
	if len(p.Rules) > MaxRules {
		return fmt.Errorf("%w: %d rules (at most %d)", ErrInvalidPolicy, len(p.Rules), MaxRules)
	}
	for i := range p.Rules {
		if err := p.Rules[i].validate(); err != nil {
			return fmt.Errorf("%w: rules[%d]: %v", ErrInvalidPolicy, i, err)
		}
	}
	return nil
}

func (r *Rule) validate() error {
	if err := checkText("name", r.Name, maxNameLen); err != nil {
		return err
	}
	if err := checkCount("ports", len(r.Ports), maxPortsPerRule); err != nil {
		return err
	}
	for _, port := range r.Ports {
		if port == 0 {
			return fmt.Errorf("rule %q: port 0", r.Name)
		}
	}
	if err := checkCount("principals", len(r.Principals), maxPrincipalsPerRule); err != nil {
		return err
	}
	for _, pr := range r.Principals {
		if err := validatePrincipal(pr); err != nil {
			return fmt.Errorf("rule %q: %v", r.Name, err)
		}
	}
	if err := checkCount("provenance", len(r.Provenance), maxProvenance); err != nil {
		return err
	}
	for _, a := range r.Provenance {
		if err := checkText("provenance authority", a, 256); err != nil {
			return fmt.Errorf("rule %q: %v", r.Name, err)
		}
	}
	if r.HTTP != nil {
		if err := r.HTTP.validate(); err != nil {
			return fmt.Errorf("rule %q: http: %v", r.Name, err)
		}
	}
	return nil
}

func (m *HTTPMatch) validate() error {
	if len(m.Methods) == 0 && len(m.PathPrefixes) == 0 {
		return errors.New("name methods or pathPrefixes (or leave http out)")
	}
	if err := checkCount("methods", len(m.Methods), maxMethods); err != nil {
		return err
	}
	for _, method := range m.Methods {
		if !isMethod(method) {
			return fmt.Errorf("method %q: want an upper-case token such as GET", method)
		}
	}
	if err := checkCount("pathPrefixes", len(m.PathPrefixes), maxPathPrefixes); err != nil {
		return err
	}
	for _, prefix := range m.PathPrefixes {
		if len(prefix) > maxStringLen || strings.Contains(prefix, "%") {
			return fmt.Errorf("path prefix %q: give the decoded path, at most %d bytes", prefix, maxStringLen)
		}
		if p, ok := CanonicalPath(prefix); !ok || p != prefix || strings.ContainsAny(prefix, "?#") {
			return fmt.Errorf("path prefix %q: want a canonical absolute path like /api/v1", prefix)
		}
	}
	return nil
}

func checkCount(field string, n, limit int) error {
	if n > limit {
		return fmt.Errorf("%d %s (at most %d)", n, field, limit)
	}
	return nil
}

// checkText accepts printable UTF-8 without surrounding space.
func checkText(field, s string, limit int) error {
	switch {
	case s == "" || len(s) > limit:
		return fmt.Errorf("%s must be 1–%d bytes", field, limit)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s %q is not UTF-8", field, s)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%s %q has surrounding space", field, s)
	case strings.ContainsFunc(s, unicode.IsControl):
		return fmt.Errorf("%s %q has control characters", field, s)
	}
	return nil
}

// isMethod accepts the upper-case tokens HTTP methods are in practice.
func isMethod(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
