package policy

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

// TrustRules are a policy's compiled signature and attestation rules.
type TrustRules struct {
	Signatures   []*SignatureRule
	Attestations []*AttestationRule
	// VulnAuthorities sign the vulnerability attestations the gate trusts; empty means the
	// authorities of the signature rules that match the image.
	VulnAuthorities []*signature.Authority
	// AllowOnRegistryError admits, with a warning, what the registry could not be asked about.
	AllowOnRegistryError bool
}

// SignatureRule is one compiled spec.images.signatures entry.
type SignatureRule struct {
	Images      imageref.Patterns
	Authorities []*signature.Authority
	Threshold   int
}

// AttestationRule is one compiled spec.images.attestations entry.
type AttestationRule struct {
	Images             imageref.Patterns
	PredicateType      string
	Authorities        []*signature.Authority
	Threshold          int
	BuilderIDs         []string
	SourceRepositories []string
}

// SecretReader reads one key of a Secret, for authorities whose key lives in one.
type SecretReader func(namespace, name, key string) ([]byte, error)

// CompileOptions change how Compile treats what lives outside the policy document.
type CompileOptions struct {
	// Secrets reads the keys of key.secretRef authorities. Nil: such an authority is an error,
	// unless SkipSecrets is set.
	Secrets SecretReader
	// SkipSecrets accepts key.secretRef authorities without reading them (validation at apply
	// time: the Secret may be created after the policy). Their authorities verify nothing.
	SkipSecrets bool
}

// DefaultSecretKey is the Secret key a key.secretRef reads when it names none: cosign's file name.
const DefaultSecretKey = "cosign.pub"

// needsTrust reports whether the rules want registry data about ref: a signature or
// attestation rule matches it, or a vulnerability gate may read its report from the registry.
func (r *ImageRules) needsTrust(ref imageref.Reference) bool {
	if r.Trust == nil {
		return false
	}
	if r.Vulnerabilities != nil && len(r.Trust.VulnAuthorities) > 0 {
		return true
	}
	for _, s := range r.Trust.Signatures {
		if s.Images.Matches(ref) {
			return true
		}
	}
	for _, a := range r.Trust.Attestations {
		if a.Images.Matches(ref) {
			return true
		}
	}
	return false
}

func compileTrust(img *v1alpha1.ImagePolicy, namespace string, opts CompileOptions, path *field.Path) (*TrustRules, field.ErrorList) {
	var errs field.ErrorList
	t := &TrustRules{}
	switch img.OnRegistryError {
	case "", v1alpha1.RegistryErrorDeny:
	case v1alpha1.RegistryErrorAllow:
		t.AllowOnRegistryError = true
	default:
		errs = append(errs, field.NotSupported(path.Child("onRegistryError"), img.OnRegistryError, []string{"Deny", "Allow"}))
	}
	for i := range img.Signatures {
		r := &img.Signatures[i]
		rp := path.Child("signatures").Index(i)
		pats, perrs := compilePatterns(r.Images, rp.Child("images"))
		auths, aerrs := compileAuthorities(r.Authorities, namespace, opts, rp.Child("authorities"))
		th, terrs := compileThreshold(r.Threshold, len(r.Authorities), rp.Child("threshold"))
		errs = append(errs, append(perrs, append(aerrs, terrs...)...)...)
		t.Signatures = append(t.Signatures, &SignatureRule{Images: pats, Authorities: auths, Threshold: th})
	}
	for i := range img.Attestations {
		r := &img.Attestations[i]
		rp := path.Child("attestations").Index(i)
		pats, perrs := compilePatterns(r.Images, rp.Child("images"))
		auths, aerrs := compileAuthorities(r.Authorities, namespace, opts, rp.Child("authorities"))
		th, terrs := compileThreshold(r.Threshold, len(r.Authorities), rp.Child("threshold"))
		errs = append(errs, append(perrs, append(aerrs, terrs...)...)...)
		pt := strings.TrimSpace(r.PredicateType)
		if pt == "" {
			errs = append(errs, field.Required(rp.Child("predicateType"), "name the in-toto predicate type, or slsaprovenance, slsaprovenance1 or vuln"))
		}
		t.Attestations = append(t.Attestations, &AttestationRule{
			Images: pats, PredicateType: signature.PredicateTypeURI(pt), Authorities: auths, Threshold: th,
			BuilderIDs: r.BuilderIDs, SourceRepositories: r.SourceRepositories,
		})
	}
	if img.Vulnerabilities != nil {
		if len(img.Vulnerabilities.Authorities) > 0 { // optional here: the signature rules' authorities serve
			auths, aerrs := compileAuthorities(img.Vulnerabilities.Authorities, namespace, opts, path.Child("vulnerabilities", "authorities"))
			errs = append(errs, aerrs...)
			t.VulnAuthorities = auths
		}
	}
	return t, errs
}

func compilePatterns(raw []string, path *field.Path) (imageref.Patterns, field.ErrorList) {
	if len(raw) == 0 {
		return nil, field.ErrorList{field.Required(path, `list the images the rule applies to, like "ghcr.io/acme/**", or "*"`)}
	}
	var errs field.ErrorList
	var out imageref.Patterns
	for i, s := range raw {
		p, err := imageref.ParsePattern(s)
		if err != nil {
			errs = append(errs, field.Invalid(path.Index(i), s, err.Error()))
			continue
		}
		out = append(out, p)
	}
	return out, errs
}

func compileThreshold(n, authorities int, path *field.Path) (int, field.ErrorList) {
	switch {
	case n == 0:
		return 1, nil
	case n < 0 || n > authorities:
		return n, field.ErrorList{field.Invalid(path, n, fmt.Sprintf("want between 1 and the number of authorities (%d)", authorities))}
	}
	return n, nil
}

// compileAuthorities builds the authorities of a rule; a rule must list at least one.
func compileAuthorities(specs []v1alpha1.Authority, namespace string, opts CompileOptions, path *field.Path) ([]*signature.Authority, field.ErrorList) {
	var errs field.ErrorList
	if len(specs) == 0 {
		errs = append(errs, field.Required(path, "list the authorities (keys or keyless identities) the rule trusts"))
	}
	var out []*signature.Authority
	seen := map[string]bool{}
	for i := range specs {
		a := &specs[i]
		ap := path.Index(i)
		if a.Name == "" {
			errs = append(errs, field.Required(ap.Child("name"), "name the authority; findings and identities use the name"))
		} else if seen[a.Name] {
			errs = append(errs, field.Duplicate(ap.Child("name"), a.Name))
		}
		seen[a.Name] = true
		auth, err := compileAuthority(a, namespace, opts, ap)
		errs = append(errs, err...)
		if auth != nil {
			out = append(out, auth)
		}
	}
	return out, errs
}

func compileAuthority(a *v1alpha1.Authority, namespace string, opts CompileOptions, path *field.Path) (*signature.Authority, field.ErrorList) {
	switch {
	case (a.Key == nil) == (a.Keyless == nil):
		return nil, field.ErrorList{field.Invalid(path, a.Name, "set exactly one of key and keyless")}
	case a.Keyless != nil:
		k := a.Keyless
		var errs field.ErrorList
		if (k.Issuer == "") == (k.IssuerRegExp == "") {
			errs = append(errs, field.Invalid(path.Child("keyless"), k.Issuer, "set exactly one of issuer and issuerRegExp"))
		}
		if (k.Subject == "") == (k.SubjectRegExp == "") {
			errs = append(errs, field.Invalid(path.Child("keyless"), k.Subject, "set exactly one of subject and subjectRegExp"))
		}
		if len(errs) > 0 {
			return nil, errs
		}
		auth, err := signature.NewKeylessAuthority(a.Name, signature.Keyless{
			Issuer: k.Issuer, IssuerRegExp: k.IssuerRegExp, Subject: k.Subject, SubjectRegExp: k.SubjectRegExp,
			RootsPEM: []byte(k.Roots), TransparencyLogKeyPEM: []byte(k.TransparencyLogKey),
		})
		if err != nil {
			return nil, field.ErrorList{field.Invalid(path.Child("keyless"), a.Name, err.Error())}
		}
		return auth, nil
	}
	k := a.Key
	kp := path.Child("key")
	var pemData []byte
	switch {
	case (k.PEM == "") == (k.SecretRef == nil):
		return nil, field.ErrorList{field.Invalid(kp, a.Name, "set exactly one of pem and secretRef")}
	case k.PEM != "":
		pemData = []byte(k.PEM)
	default:
		ref := k.SecretRef
		ns, key := ref.Namespace, ref.Key
		if key == "" {
			key = DefaultSecretKey
		}
		switch {
		case ns == "" && namespace == "":
			return nil, field.ErrorList{field.Required(kp.Child("secretRef", "namespace"), "a ClusterSecurityPolicy must name the Secret's namespace")}
		case ns == "":
			ns = namespace
		case namespace != "" && ns != namespace:
			return nil, field.ErrorList{field.Invalid(kp.Child("secretRef", "namespace"), ns, "a SecurityPolicy may only read Secrets in its own namespace")}
		}
		if opts.SkipSecrets {
			return nil, nil
		}
		if opts.Secrets == nil {
			return nil, field.ErrorList{field.Invalid(kp.Child("secretRef"), ref.Name,
				"a Secret can only be read in the cluster; outside it, give the public key inline in key.pem")}
		}
		data, err := opts.Secrets(ns, ref.Name, key)
		if err != nil {
			return nil, field.ErrorList{field.Invalid(kp.Child("secretRef"), ref.Name, fmt.Sprintf("reading Secret %s/%s key %q: %v", ns, ref.Name, key, err))}
		}
		pemData = data
	}
	auth, err := signature.NewKeyAuthority(a.Name, pemData)
	if err != nil {
		return nil, field.ErrorList{field.Invalid(kp, a.Name, err.Error())}
	}
	return auth, nil
}

// judgeTrustRules calls judge for every container image and every rule whose patterns match
// it, with what the registry holds about the image, and collects the messages judge returns
// ("" is no violation). An image the registry could not be asked about gets one violation for
// all its rules (trustViolation) instead.
func judgeTrustRules[R any](in *Input, rules []R, patterns func(R) imageref.Patterns, judge func(t *ImageTrust, rule R) string) []Violation {
	var out []Violation
	for _, c := range in.Containers {
		ref, err := parsedImage(c)
		if err != nil {
			continue
		}
		for _, rule := range rules {
			if !patterns(rule).Matches(ref) {
				continue
			}
			if v, ok := trustViolation(in, c, ref); ok {
				out = append(out, v)
				break
			}
			t := in.ImageData.Trust(ref)
			if msg := judge(t, rule); msg != "" {
				out = append(out, containerViolation(c, "image", fmt.Sprintf("image %q (%s) %s", c.Container.Image, shortDigest(t.Digest), msg)))
			}
		}
	}
	return out
}

// signatures verifies the image's signatures against rule's authorities, once per rule.
func (t *ImageTrust) signatures(rule *SignatureRule, now time.Time) signature.SignatureResult {
	return t.remember(fmt.Sprintf("sig|%p", rule), func() any {
		return t.Evidence.VerifySignatures(rule.Authorities, now)
	}).(signature.SignatureResult)
}
