package accesspolicy

import (
	"fmt"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// Limits, the same as the CRD's schema and within what authz accepts in one rule.
const (
	maxIngress        = 64
	maxFrom           = 32
	maxListItems      = 256 // serviceAccounts, namespaces
	maxProvenance     = 16
	maxPortEntries    = 64
	maxPathPrefixes   = 64
	maxPathPrefixLen  = 1024
	maxAuthorityLen   = 63
	maxPortNumber     = 65535
	maxServiceAccount = validation.DNS1123LabelMaxLength + 1 + validation.DNS1123SubdomainMaxLength

	// MaxPortsPerRule is how many port numbers one ingress rule's ports may span in all,
	// ranges expanded: the authz model lists ports one by one and accepts at most 128 per rule.
	MaxPortsPerRule = 128
)

// authorityName is the pattern of Authority.Name in securitypolicy_types.go.
var authorityName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)

// httpMethods are the methods an AccessPolicy may name, as in the CRD's enum.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// Validate returns every problem in the policy's spec, each with its field path and a message
// that says what to write instead. It does not look at the cluster: a selector that matches
// nothing is valid.
func Validate(ap *v1alpha1.AccessPolicy) field.ErrorList {
	if ap == nil {
		return field.ErrorList{field.Required(field.NewPath("spec"), "an AccessPolicy is required")}
	}
	spec := field.NewPath("spec")
	errs := validateSelector(ap.Spec.Selector, spec.Child("selector"))
	switch ap.Spec.MTLS {
	case "", v1alpha1.MTLSStrict, v1alpha1.MTLSPermissive:
	default:
		errs = append(errs, field.NotSupported(spec.Child("mtls"), ap.Spec.MTLS,
			[]string{string(v1alpha1.MTLSStrict), string(v1alpha1.MTLSPermissive)}))
	}
	ingress := spec.Child("ingress")
	if len(ap.Spec.Ingress) > maxIngress {
		errs = append(errs, field.TooMany(ingress, len(ap.Spec.Ingress), maxIngress))
	}
	for i := range ap.Spec.Ingress {
		errs = append(errs, validateIngress(&ap.Spec.Ingress[i], ingress.Index(i))...)
	}
	return errs
}

func validateIngress(r *v1alpha1.AccessPolicyIngressRule, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(r.From) > maxFrom {
		errs = append(errs, field.TooMany(p.Child("from"), len(r.From), maxFrom))
	}
	for j := range r.From {
		errs = append(errs, validatePeer(&r.From[j], p.Child("from").Index(j))...)
	}
	errs = append(errs, validatePorts(r.Ports, p.Child("ports"))...)
	if r.HTTP != nil {
		errs = append(errs, validateHTTP(r.HTTP, p.Child("http"))...)
	}
	return errs
}

func validatePeer(peer *v1alpha1.AccessPolicyPeer, p *field.Path) field.ErrorList {
	if peer.ServiceAccounts == nil && peer.Namespaces == nil && peer.NamespaceSelector == nil &&
		peer.PodSelector == nil && peer.Provenance == nil {
		return field.ErrorList{field.Required(p, "name at least one of serviceAccounts, namespaces, "+
			"namespaceSelector, podSelector or provenance; to allow every meshed peer, leave from out of the rule")}
	}
	var errs field.ErrorList
	errs = append(errs, checkList(peer.ServiceAccounts, maxListItems, p.Child("serviceAccounts"), validateServiceAccount)...)
	errs = append(errs, checkList(peer.Namespaces, maxListItems, p.Child("namespaces"), validateNamespaceName)...)
	errs = append(errs, validateSelector(peer.NamespaceSelector, p.Child("namespaceSelector"))...)
	errs = append(errs, validateSelector(peer.PodSelector, p.Child("podSelector"))...)
	errs = append(errs, checkList(peer.Provenance, maxProvenance, p.Child("provenance"), validateAuthority)...)
	return errs
}

// checkList reports an empty list that was written out, too many items, and each bad item.
func checkList(items []string, limit int, p *field.Path, check func(string, *field.Path) *field.Error) field.ErrorList {
	var errs field.ErrorList
	switch {
	case items != nil && len(items) == 0:
		errs = append(errs, field.Required(p, "an empty list matches no peer: name at least one, or leave the field out"))
	case len(items) > limit:
		errs = append(errs, field.TooMany(p, len(items), limit))
	}
	for k, s := range items {
		if err := check(s, p.Index(k)); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// validateServiceAccount accepts "name" or "namespace/name".
func validateServiceAccount(s string, p *field.Path) *field.Error {
	const want = `write "name" for a ServiceAccount in the policy's namespace or "namespace/name" for another namespace`
	if len(s) > maxServiceAccount {
		return field.TooLong(p, "", maxServiceAccount)
	}
	ns, name, qualified := strings.Cut(s, "/")
	if !qualified {
		ns, name = "", s
	}
	if qualified {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			return field.Invalid(p, s, fmt.Sprintf("namespace %q: %s; %s", ns, strings.Join(msgs, "; "), want))
		}
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return field.Invalid(p, s, fmt.Sprintf("ServiceAccount name %q: %s; %s", name, strings.Join(msgs, "; "), want))
	}
	return nil
}

func validateNamespaceName(s string, p *field.Path) *field.Error {
	if msgs := validation.IsDNS1123Label(s); len(msgs) > 0 {
		return field.Invalid(p, s, "a namespace name: "+strings.Join(msgs, "; "))
	}
	return nil
}

func validateAuthority(s string, p *field.Path) *field.Error {
	if len(s) > maxAuthorityLen || !authorityName.MatchString(s) {
		return field.Invalid(p, s, "write the name of a signing authority as a SecurityPolicy names it: "+
			"lower-case letters, digits, '.' and '-', starting and ending with a letter or digit, at most 63 characters")
	}
	return nil
}

func validateSelector(sel *metav1.LabelSelector, p *field.Path) field.ErrorList {
	if sel == nil {
		return nil
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, p)
	if len(errs) == 0 {
		if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
			errs = append(errs, field.Invalid(p, sel, err.Error()))
		}
	}
	return errs
}

func validatePorts(ports []v1alpha1.AccessPolicyPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(ports) > maxPortEntries {
		errs = append(errs, field.TooMany(p, len(ports), maxPortEntries))
	}
	span := 0
	for k, port := range ports {
		pp := p.Index(k)
		if port.Port < 1 || port.Port > maxPortNumber {
			errs = append(errs, field.Invalid(pp.Child("port"), port.Port, "a port is 1–65535; leave ports out to allow every port"))
			continue
		}
		if port.EndPort == nil {
			span++
			continue
		}
		switch end := *port.EndPort; {
		case end > maxPortNumber:
			errs = append(errs, field.Invalid(pp.Child("endPort"), end, "a port is 1–65535"))
		case end < port.Port:
			errs = append(errs, field.Invalid(pp.Child("endPort"), end,
				fmt.Sprintf("endPort must be at least port (%d); for a single port leave endPort out", port.Port)))
		default:
			span += int(end-port.Port) + 1
		}
	}
	if span > MaxPortsPerRule {
		errs = append(errs, field.Invalid(p, span, fmt.Sprintf("the rule's ports span %d port numbers, at most %d are enforced per rule: "+
			"split the rule, or leave ports out to allow every port", span, MaxPortsPerRule)))
	}
	return errs
}

func validateHTTP(h *v1alpha1.AccessPolicyHTTP, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(h.Methods) == 0 && len(h.PathPrefixes) == 0 {
		errs = append(errs, field.Required(p, "name methods or pathPrefixes, or leave http out to allow any traffic on the ports"))
	}
	if len(h.Methods) > len(httpMethods) {
		errs = append(errs, field.TooMany(p.Child("methods"), len(h.Methods), len(httpMethods)))
	}
	for k, m := range h.Methods {
		if !isMethod(string(m)) {
			errs = append(errs, field.NotSupported(p.Child("methods").Index(k), m, httpMethods))
		}
	}
	if len(h.PathPrefixes) > maxPathPrefixes {
		errs = append(errs, field.TooMany(p.Child("pathPrefixes"), len(h.PathPrefixes), maxPathPrefixes))
	}
	for k, prefix := range h.PathPrefixes {
		if err := validatePathPrefix(prefix, p.Child("pathPrefixes").Index(k)); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func isMethod(m string) bool {
	for _, known := range httpMethods {
		if m == known {
			return true
		}
	}
	return false
}

// validatePathPrefix accepts what authz matches: a canonical, decoded absolute path.
func validatePathPrefix(prefix string, p *field.Path) *field.Error {
	switch {
	case len(prefix) > maxPathPrefixLen:
		return field.TooLong(p, "", maxPathPrefixLen)
	case !strings.HasPrefix(prefix, "/"):
		return field.Invalid(p, prefix, `a path prefix starts with "/", like /api`)
	case strings.Contains(prefix, "*"):
		return field.Invalid(p, prefix, "prefixes take no globs and match whole segments"+globHint(prefix))
	case strings.ContainsAny(prefix, "?#"):
		return field.Invalid(p, prefix, "a path prefix is a path only, without a query (?) or fragment (#)")
	case strings.Contains(prefix, "%"):
		return field.Invalid(p, prefix, "write the decoded path: requests are matched after percent-decoding")
	}
	if canon, ok := authz.CanonicalPath(prefix); !ok || canon != prefix {
		return field.Invalid(p, prefix, `write a canonical path: no "." or ".." segments, no "//", no backslashes`)
	}
	return nil
}

// globHint suggests the prefix for "/api/*": "/api".
func globHint(prefix string) string {
	base := strings.TrimSuffix(strings.TrimRight(prefix, "*"), "/")
	if strings.Contains(base, "*") {
		return ""
	}
	if base == "" {
		base = "/"
	}
	return fmt.Sprintf(": write %q to match it and everything under it", base)
}

// Warnings returns what a policy's author should know before applying it, without looking at
// the cluster: each podSelector peer admits whole ServiceAccounts. Compile's reports say which
// pods that widens to.
func Warnings(ap *v1alpha1.AccessPolicy) []string {
	if ap == nil {
		return nil
	}
	var out []string
	for i, in := range ap.Spec.Ingress {
		for j, e := range in.From {
			if e.PodSelector != nil && e.ServiceAccounts == nil {
				out = append(out, fmt.Sprintf("spec.ingress[%d].from[%d].podSelector: peers are identified by ServiceAccount, "+
					"so every pod sharing a ServiceAccount with a matching pod is allowed too; "+
					"give the peers a ServiceAccount of their own, or name it in serviceAccounts", i, j))
			}
		}
	}
	return out
}
