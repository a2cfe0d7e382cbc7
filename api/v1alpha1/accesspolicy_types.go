package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MeshDefaultDenyLabel on a namespace, with the value "true", makes every meshed workload in it
// deny all inbound traffic that no AccessPolicy allows, whether or not a policy selects it.
const MeshDefaultDenyLabel = "security.outrider.dev/mesh-default-deny"

// MTLSMode says whether a protected workload accepts plain text from outside the mesh.
// +kubebuilder:validation:Enum=Strict;Permissive
type MTLSMode string

const (
	// MTLSStrict accepts only mutual TLS from meshed peers (the default).
	MTLSStrict MTLSMode = "Strict"
	// MTLSPermissive also accepts plain-text connections from clients outside the mesh, for
	// migrating a namespace into the mesh. A plain-text client has no identity, so only
	// ingress rules without `from` let it in; rules that name peers still admit only meshed
	// peers that prove who they are.
	MTLSPermissive MTLSMode = "Permissive"
)

// AccessPolicySpec says which peers may reach the workloads it selects, on which ports, and
// optionally with which HTTP requests. A workload selected by any AccessPolicy refuses every
// connection that no ingress rule of the policies selecting it allows.
//
// Peers are identified by their workload identity, spiffe://<trust-domain>/ns/<namespace>/sa/
// <serviceaccount>: one identity per ServiceAccount, not per pod. A peer named by pod labels
// (podSelector) is therefore allowed by the ServiceAccounts of the matching pods, and every
// other pod that shares one of those ServiceAccounts is allowed too. Give each workload its own
// ServiceAccount, or name ServiceAccounts directly.
type AccessPolicySpec struct {
	// Selector selects the meshed workloads (pods, by their labels) in the policy's namespace
	// that the policy protects. Unset or empty selects every pod in the namespace.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Ingress lists what the selected workloads accept; a connection allowed by any rule is
	// allowed. Empty: the selected workloads accept nothing.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Ingress []AccessPolicyIngressRule `json:"ingress,omitempty"`

	// MTLS is Strict (the default: meshed peers over mutual TLS only) or Permissive (plain
	// text from clients outside the mesh is accepted too, for migration). A workload is
	// permissive only when every AccessPolicy that selects it is Permissive.
	// +optional
	// +kubebuilder:default=Strict
	MTLS MTLSMode `json:"mtls,omitempty"`
}

// AccessPolicyIngressRule allows peers to reach ports, optionally only with some HTTP requests.
type AccessPolicyIngressRule struct {
	// From lists the peers allowed; a peer that matches any entry is allowed. Empty or unset
	// allows every meshed peer (and, in Permissive mode, plain-text clients).
	// +optional
	// +kubebuilder:validation:MaxItems=32
	From []AccessPolicyPeer `json:"from,omitempty"`

	// Ports are the destination ports the peers may connect to, as the application listens
	// on them (the container port, not a Service port). Empty means every port.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Ports []AccessPolicyPort `json:"ports,omitempty"`

	// HTTP restricts the rule to HTTP/1.1 and HTTP/2 requests with these methods and paths;
	// the proxy then inspects every request on the rule's ports. Unset allows any traffic.
	// +optional
	HTTP *AccessPolicyHTTP `json:"http,omitempty"`
}

// AccessPolicyPeer names peers. Every field that is set must match (they combine with AND);
// at least one must be set.
//
//   - serviceAccounts alone: exactly those identities.
//   - namespaces and/or namespaceSelector alone: every identity in those namespaces.
//   - podSelector: the ServiceAccounts of the meshed pods with those labels, in the namespaces
//     that namespaces/namespaceSelector name, or in the policy's own namespace when neither
//     is set. Every pod sharing such a ServiceAccount is allowed too (see AccessPolicySpec).
//   - provenance: the peer's identity certificate must also carry one of these signing
//     authorities; alone, any meshed peer that carries one.
type AccessPolicyPeer struct {
	// ServiceAccounts are identities as "name" (in the policy's namespace) or
	// "namespace/name".
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=317
	ServiceAccounts []string `json:"serviceAccounts,omitempty"`

	// Namespaces lists namespaces by name.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	Namespaces []string `json:"namespaces,omitempty"`

	// NamespaceSelector selects namespaces by their labels; {} selects every namespace.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// PodSelector selects the peer pods by their labels; {} selects every meshed pod. Peers
	// are identified per ServiceAccount, so this admits every pod that shares a ServiceAccount
	// with a matching pod.
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`

	// Provenance lists signing authorities (the names of image-trust authorities in a
	// SecurityPolicy); the peer's certificate must carry at least one, which it does only when
	// every image of the peer's pod was verified as signed by that authority at admission.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`
	// +kubebuilder:validation:items:MaxLength=63
	Provenance []string `json:"provenance,omitempty"`
}

// AccessPolicyPort is a TCP destination port, or the range Port..EndPort.
// +kubebuilder:validation:XValidation:rule="!has(self.endPort) || self.endPort >= self.port",message="endPort must be at least port"
type AccessPolicyPort struct {
	// Port is the destination port (1–65535).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`

	// EndPort, when set, makes the entry the inclusive range Port..EndPort. A rule's ports may
	// span at most 128 port numbers in all.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	EndPort *int32 `json:"endPort,omitempty"`
}

// HTTPMethod is an HTTP request method.
// +kubebuilder:validation:Enum=GET;HEAD;POST;PUT;PATCH;DELETE;OPTIONS;CONNECT;TRACE
type HTTPMethod string

// AccessPolicyHTTP restricts a rule to some HTTP requests. At least one list must be set, and
// every list that is set must match.
type AccessPolicyHTTP struct {
	// Methods are the request methods allowed. Empty means any.
	// +optional
	// +kubebuilder:validation:MaxItems=9
	Methods []HTTPMethod `json:"methods,omitempty"`

	// PathPrefixes are decoded absolute paths that match by whole segments: "/api" matches
	// "/api" and "/api/v1" but not "/apis"; no globs. Requests whose path is ambiguous (dot
	// segments, "//", encoded slashes) never match. Empty means any path.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Pattern=`^/`
	// +kubebuilder:validation:items:MaxLength=1024
	PathPrefixes []string `json:"pathPrefixes,omitempty"`
}

// AccessPolicyStatus reports whether the policy is in force.
type AccessPolicyStatus struct {
	// Ready is true when the policy is valid and its rules are pushed to the proxies of the
	// workloads it selects.
	// +optional
	Ready bool `json:"ready,omitempty"`
	// Message explains a policy that is not ready: the fields that are wrong and what to write
	// instead. None of its rules apply until it is fixed, so the workloads it selects accept
	// only what other policies allow.
	// +optional
	Message string `json:"message,omitempty"`
	// Warnings are things a valid policy does that its author may not expect, such as a
	// podSelector that also admits other pods of the same ServiceAccount.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	Warnings []string `json:"warnings,omitempty"`
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// AccessPolicy says which peers may reach the meshed workloads in its namespace that it
// selects. The workload's sidecar proxy enforces it on every connection (and HTTP request).
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=ap
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="mTLS",type=string,JSONPath=`.spec.mtls`
// +kubebuilder:printcolumn:name="Ready",type=boolean,JSONPath=`.status.ready`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AccessPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AccessPolicySpec   `json:"spec,omitempty"`
	Status AccessPolicyStatus `json:"status,omitempty"`
}

// AccessPolicyList is a list of AccessPolicy.
// +kubebuilder:object:root=true
type AccessPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AccessPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AccessPolicy{}, &AccessPolicyList{})
}
