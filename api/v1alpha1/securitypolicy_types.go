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
