package v1alpha1

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PolicyMode says what happens to a workload that violates a policy.
// +kubebuilder:validation:Enum=Enforce;Audit;Warn
type PolicyMode string

const (
	// ModeEnforce refuses violating workloads at admission and fails `outrider scan`.
	ModeEnforce PolicyMode = "Enforce"
	// ModeWarn admits violating workloads with admission warnings.
	ModeWarn PolicyMode = "Warn"
	// ModeAudit admits violating workloads and records the violations in reports.
	ModeAudit PolicyMode = "Audit"
)

// SecurityPolicySpec is what a ClusterSecurityPolicy or SecurityPolicy asks of the workloads it
// matches. The same document is accepted offline by `outrider scan --policy`.
type SecurityPolicySpec struct {
	// Mode is Enforce (the default), Warn or Audit.
	// +optional
	Mode PolicyMode `json:"mode,omitempty"`

	// Match selects the workloads the policy applies to. Empty matches every workload
	// (a namespaced SecurityPolicy only ever matches its own namespace).
	// +optional
	Match *MatchSpec `json:"match,omitempty"`

	// PodSecurity selects the Pod Security Standards level the workloads must meet.
	// Unset means restricted at the latest version.
	// +optional
	PodSecurity *PodSecuritySpec `json:"podSecurity,omitempty"`

	// Images holds the rules for container images.
	// +optional
	Images *ImagePolicy `json:"images,omitempty"`

	// Checks turns built-in Outrider checks on or off and overrides their severity.
	// +optional
	// +listType=map
	// +listMapKey=id
	Checks []CheckSetting `json:"checks,omitempty"`

	// Rules are custom checks written in CEL.
	// +optional
	// +listType=map
	// +listMapKey=id
	Rules []CELRule `json:"rules,omitempty"`

	// Exceptions exempt named workloads from named checks, with a reason and an expiry.
	// +optional
	Exceptions []Exception `json:"exceptions,omitempty"`

	// AllowSuppressionAnnotations lets a workload silence checks with the annotations
	// security.outrider.dev/ignore and security.outrider.dev/ignore-reason (default true).
	// Set it to false where the people who write workloads must not decide what is enforced;
	// exceptions in the policy still apply.
	// +optional
	AllowSuppressionAnnotations *bool `json:"allowSuppressionAnnotations,omitempty"`
}

// MatchSpec selects workloads. Every field that is set must match.
type MatchSpec struct {
	// Namespaces lists namespace names (exact, or a glob with *) the policy applies to.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
	// ExcludeNamespaces lists namespace names (exact, or a glob with *) the policy never applies to.
	// +optional
	ExcludeNamespaces []string `json:"excludeNamespaces,omitempty"`
	// NamespaceSelector selects namespaces by their labels.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// Selector selects workloads by their labels.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Kinds lists the workload kinds (Pod, Deployment, CronJob, …) the policy applies to.
	// +optional
	Kinds []string `json:"kinds,omitempty"`
}

// PodSecurityLevel is a Pod Security Standards level.
// +kubebuilder:validation:Enum=privileged;baseline;restricted
type PodSecurityLevel string

// PodSecuritySpec selects a Pod Security Standards level and version.
type PodSecuritySpec struct {
	// Level is privileged (no checks), baseline or restricted (the default).
	// +optional
	Level PodSecurityLevel `json:"level,omitempty"`
	// Version pins the standard's version, like "v1.34"; "latest" (the default) follows the
	// newest version this Outrider knows. Pin it to keep the checks' behaviour fixed.
	// +optional
	Version string `json:"version,omitempty"`
}

// ImagePolicy holds the rules for container images.
type ImagePolicy struct {
	// AllowedRegistries lists registry hosts ("registry.example.com") or host/path prefixes
	// ("ghcr.io/acme") that images may come from. A prefix matches on whole path segments only.
	// Short names are normalised first: "nginx" is "docker.io/library/nginx". Empty allows all.
	// +optional
	AllowedRegistries []string `json:"allowedRegistries,omitempty"`
	// RequireDigest requires every image to be pinned by digest (image@sha256:…).
	// +optional
	RequireDigest bool `json:"requireDigest,omitempty"`
	// Vulnerabilities gates images on their vulnerability reports (checks image.vulnerabilities
	// and image.reportAge). Unset: no vulnerability gate.
	// +optional
	Vulnerabilities *VulnerabilityPolicy `json:"vulnerabilities,omitempty"`
	// PinDigests makes the mutating webhook rewrite every image to the digest its tag names at
	// admission ("repo:tag@sha256:…"), so a tag moved later cannot change what runs (default
	// true). Signatures, attestations and reports are always judged on the digest.
	// +optional
	PinDigests *bool `json:"pinDigests,omitempty"`
	// Signatures require images to be signed (cosign-compatible) by trusted authorities
	// (check image.signature). Each rule applies to the images its patterns match.
	// +optional
	Signatures []SignatureRule `json:"signatures,omitempty"`
	// Attestations require signed in-toto attestations, like SLSA provenance from a given
	// builder and source repository (check image.attestation).
	// +optional
	Attestations []AttestationRule `json:"attestations,omitempty"`
	// OnRegistryError says what happens when the registry cannot be asked in time (digest,
	// signatures, attestations): Deny (the default) refuses the workload with an error naming
	// the registry and the image; Allow admits it with a warning.
	// +optional
	OnRegistryError RegistryErrorAction `json:"onRegistryError,omitempty"`
}

// RegistryErrorAction is what a policy does when the registry cannot be asked.
// +kubebuilder:validation:Enum=Deny;Allow
type RegistryErrorAction string

const (
	// RegistryErrorDeny refuses a workload whose images could not be verified.
	RegistryErrorDeny RegistryErrorAction = "Deny"
	// RegistryErrorAllow admits it, with a warning.
	RegistryErrorAllow RegistryErrorAction = "Allow"
)

// SignatureRule requires the images it matches to carry signatures from Threshold of its
// Authorities. Signatures are read where cosign stores them: the "sha256-<digest>.sig" tag and
// the OCI 1.1 referrers of the image.
type SignatureRule struct {
	// Images are reference patterns the rule applies to, matched against the normalised
	// reference without tag or digest: "ghcr.io/acme/*" (one path segment), "ghcr.io/acme/**"
	// (any depth), "127.0.0.1:5000/api", "*" for every image.
	// +kubebuilder:validation:MinItems=1
	Images []string `json:"images"`
	// Authorities are the signers the rule trusts.
	// +kubebuilder:validation:MinItems=1
	Authorities []Authority `json:"authorities"`
	// Threshold is how many different authorities must have signed (default 1).
	// +optional
	// +kubebuilder:validation:Minimum=1
	Threshold int `json:"threshold,omitempty"`
}

// AttestationRule requires a signed in-toto attestation of a predicate type for the images it
// matches, read where cosign stores attestations ("sha256-<digest>.att" and referrers).
type AttestationRule struct {
	// Images are reference patterns, as for signatures.
	// +kubebuilder:validation:MinItems=1
	Images []string `json:"images"`
	// PredicateType is the in-toto predicate type URI, or one of the short names
	// slsaprovenance (v0.2), slsaprovenance1 (v1) and vuln (cosign vulnerability report).
	// +kubebuilder:validation:MinLength=1
	PredicateType string `json:"predicateType"`
	// Authorities are the signers trusted for the attestation.
	// +kubebuilder:validation:MinItems=1
	Authorities []Authority `json:"authorities"`
	// Threshold is how many different authorities must have signed it (default 1).
	// +optional
	// +kubebuilder:validation:Minimum=1
	Threshold int `json:"threshold,omitempty"`
	// BuilderIDs, for SLSA provenance, lists the accepted builder IDs (exact, or a prefix
	// ending in "*"). Empty accepts any builder.
	// +optional
	BuilderIDs []string `json:"builderIDs,omitempty"`
	// SourceRepositories, for SLSA provenance, lists the accepted source repositories (exact,
	// or a prefix ending in "*"), like "https://github.com/acme/api". Empty accepts any.
	// +optional
	SourceRepositories []string `json:"sourceRepositories,omitempty"`
}

// Authority is one trusted signer: a public key, or a keyless (Fulcio-style) certificate
// identity. Exactly one of Key and Keyless is set.
type Authority struct {
	// Name names the authority in findings and in the provenance of workload identities.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// Key is a public key (ECDSA, Ed25519 or RSA).
	// +optional
	Key *KeyAuthority `json:"key,omitempty"`
	// Keyless trusts certificates issued by a Sigstore certificate authority to an identity.
	// +optional
	Keyless *KeylessAuthority `json:"keyless,omitempty"`
}

// KeyAuthority is a public key, inline or in a Secret. Exactly one of PEM and SecretRef is set.
type KeyAuthority struct {
	// PEM is the public key in PEM ("-----BEGIN PUBLIC KEY-----"), as `cosign.pub`.
	// +optional
	PEM string `json:"pem,omitempty"`
	// SecretRef names a Secret key holding the PEM public key. The controller reads it; `outrider
	// scan` cannot, and asks for the PEM instead.
	// +optional
	SecretRef *SecretKeyRef `json:"secretRef,omitempty"`
}

// SecretKeyRef names one key of a Secret.
type SecretKeyRef struct {
	// Namespace of the Secret; for a SecurityPolicy it must be the policy's own namespace and
	// defaults to it.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Key in the Secret's data (default "cosign.pub").
	// +optional
	Key string `json:"key,omitempty"`
}

// KeylessAuthority trusts signatures whose certificate chains to Roots and names the identity.
// Set Issuer or IssuerRegExp, and Subject or SubjectRegExp.
type KeylessAuthority struct {
	// Issuer is the OIDC issuer recorded in the certificate, like
	// "https://token.actions.githubusercontent.com".
	// +optional
	Issuer string `json:"issuer,omitempty"`
	// IssuerRegExp matches the issuer instead (anchored).
	// +optional
	IssuerRegExp string `json:"issuerRegExp,omitempty"`
	// Subject is the certificate's identity (email or URI SAN), like
	// "https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main".
	// +optional
	Subject string `json:"subject,omitempty"`
	// SubjectRegExp matches the subject instead (anchored).
	// +optional
	SubjectRegExp string `json:"subjectRegExp,omitempty"`
	// Roots are the certificate authority's root (and intermediate) certificates in PEM, for a
	// private Sigstore deployment. Required: Outrider ships no public-good trust root.
	// +kubebuilder:validation:MinLength=1
	Roots string `json:"roots"`
	// TransparencyLogKey is the PEM public key of the deployment's Rekor log. When set, a
	// signature must carry a Rekor bundle signed by it, and the certificate is checked at the
	// time the log recorded; unset, the certificate must be valid now.
	// +optional
	TransparencyLogKey string `json:"transparencyLogKey,omitempty"`
}

// VulnerabilityPolicy gates images on vulnerability reports (Trivy, Grype, SARIF or cosign
// vulnerability attestations), after OpenVEX statements have removed what does not apply.
type VulnerabilityPolicy struct {
	// FailOn is the lowest severity of a vulnerability that counts: critical, high (the
	// default), medium, low or info.
	// +optional
	FailOn Severity `json:"failOn,omitempty"`
	// IgnoreUnfixed makes vulnerabilities with no fixed version not count.
	// +optional
	IgnoreUnfixed bool `json:"ignoreUnfixed,omitempty"`
	// MaxReportAge is the oldest a report may be, a duration like "168h" or "7d". An older
	// report, or one that does not say when it was made, is itself a finding (image.reportAge).
	// Unset: reports never expire.
	// +optional
	MaxReportAge string `json:"maxReportAge,omitempty"`
	// MaxCVSS makes a vulnerability whose CVSS base score is at least this count whatever its
	// severity, like 9.0.
	// +optional
	MaxCVSS *CVSSScore `json:"maxCVSS,omitempty"`
	// Allow lists vulnerabilities that do not count, each with the reason and an optional expiry.
	// +optional
	Allow []VulnerabilityAllowance `json:"allow,omitempty"`
	// Authorities sign the cosign vulnerability attestations the controller reads from the
	// registry (predicate https://cosign.sigstore.dev/attestation/vuln/v1). Unsigned reports, or
	// reports signed by anyone else, are ignored. Empty: the authorities of the signature rules
	// that match the image.
	// +optional
	Authorities []Authority `json:"authorities,omitempty"`
}

// VulnerabilityAllowance accepts one vulnerability in every image the policy judges.
type VulnerabilityAllowance struct {
	// ID is the vulnerability's ID or one of its aliases, like "CVE-2024-3094".
	// +kubebuilder:validation:MinLength=1
	ID string `json:"id"`
	// Reason says why the vulnerability is acceptable. Required.
	// +kubebuilder:validation:MinLength=1
	Reason string `json:"reason"`
	// Expires ends the allowance (RFC 3339 date or time); unset never expires.
	// +optional
	Expires string `json:"expires,omitempty"`
}

// CVSSScore is a CVSS base score from 0 to 10, written as a number (9.0) or a string ("9.0").
// +kubebuilder:validation:Type=number
type CVSSScore string

// UnmarshalJSON accepts a JSON number or string and keeps its text; policy compilation checks it.
func (s *CVSSScore) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*s = CVSSScore(str)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("a CVSS score must be a number: %w", err)
	}
	*s = CVSSScore(n)
	return nil
}

// MarshalJSON writes the score as a number, or as a string when it is not one.
func (s CVSSScore) MarshalJSON() ([]byte, error) {
	if f, err := strconv.ParseFloat(string(s), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return []byte(strconv.FormatFloat(f, 'f', -1, 64)), nil
	}
	return json.Marshal(string(s))
}

// CheckSetting overrides a built-in check.
type CheckSetting struct {
	// ID is the check's ID, like "container.resources" or "pss.privileged".
	ID string `json:"id"`
	// Enabled turns the check on or off; unset keeps its default.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
	// Severity overrides the check's severity.
	// +optional
	Severity Severity `json:"severity,omitempty"`
}

// Severity ranks a finding.
// +kubebuilder:validation:Enum=critical;high;medium;low;info
type Severity string

// CELRule is a custom check: a CEL expression over the workload that must be true.
type CELRule struct {
	// ID names the rule in findings; it is prefixed with "custom." when it is not already.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.-]*$`
	ID string `json:"id"`
	// Expression must evaluate to true for a compliant workload. It sees `object` (the whole
	// manifest) and `podSpec` (the pod spec of a workload, or null for other kinds).
	Expression string `json:"expression"`
	// Message says what is wrong and what to change.
	Message string `json:"message"`
	// Severity defaults to medium.
	// +optional
	Severity Severity `json:"severity,omitempty"`
	// Kinds limits the rule to these kinds; empty means every kind with a pod spec.
	// +optional
	Kinds []string `json:"kinds,omitempty"`
}

// Exception exempts workloads from checks.
type Exception struct {
	// Checks lists the check IDs exempted; "*" exempts every check.
	// +kubebuilder:validation:MinItems=1
	Checks []string `json:"checks"`
	// Resources lists the workloads exempted.
	// +kubebuilder:validation:MinItems=1
	Resources []ResourceRef `json:"resources"`
	// Reason says why the exception is safe. Required.
	// +kubebuilder:validation:MinLength=1
	Reason string `json:"reason"`
	// Expires ends the exception (RFC 3339 date or time); unset never expires.
	// +optional
	Expires string `json:"expires,omitempty"`
}

// ResourceRef names workloads. Unset fields match anything; Name and Namespace accept a glob with *.
type ResourceRef struct {
	// +optional
	Kind string `json:"kind,omitempty"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +optional
	Name string `json:"name,omitempty"`
}

// SecurityPolicyStatus reports whether the policy compiled and is in force.
type SecurityPolicyStatus struct {
	// Ready is true when the policy compiled and is being enforced.
	// +optional
	Ready bool `json:"ready,omitempty"`
	// Message explains a policy that is not ready.
	// +optional
	Message string `json:"message,omitempty"`
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// ClusterSecurityPolicy applies a SecurityPolicySpec to workloads in every namespace it matches.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=csp
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Level",type=string,JSONPath=`.spec.podSecurity.level`
// +kubebuilder:printcolumn:name="Ready",type=boolean,JSONPath=`.status.ready`
type ClusterSecurityPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SecurityPolicySpec   `json:"spec,omitempty"`
	Status SecurityPolicyStatus `json:"status,omitempty"`
}

// ClusterSecurityPolicyList is a list of ClusterSecurityPolicy.
// +kubebuilder:object:root=true
type ClusterSecurityPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterSecurityPolicy `json:"items"`
}

// SecurityPolicy applies a SecurityPolicySpec to workloads in its own namespace.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=sp
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Level",type=string,JSONPath=`.spec.podSecurity.level`
// +kubebuilder:printcolumn:name="Ready",type=boolean,JSONPath=`.status.ready`
type SecurityPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SecurityPolicySpec   `json:"spec,omitempty"`
	Status SecurityPolicyStatus `json:"status,omitempty"`
}

// SecurityPolicyList is a list of SecurityPolicy.
// +kubebuilder:object:root=true
type SecurityPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SecurityPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterSecurityPolicy{}, &ClusterSecurityPolicyList{},
		&SecurityPolicy{}, &SecurityPolicyList{})
}
