// Package accesspolicy turns AccessPolicies into what enforces them: the authz.Policy each
// meshed workload's proxy receives (Compile), and plain NetworkPolicies as L3/L4 defence in
// depth (RenderNetworkPolicies). It also validates AccessPolicies (Validate) for the admission
// webhook, the identity service and the CLI alike.
//
// The package is pure: it reads no cluster and does no I/O. The caller (the identity service,
// `outrider mesh netpol`) gathers the workloads, namespaces and policies.
//
// Identity is per ServiceAccount. A proxy learns who its peer is from the peer's certificate,
// spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>, and nothing finer: two pods that
// share a ServiceAccount are the same peer. A peer that an AccessPolicy names by pod or
// namespace labels therefore compiles to the identities of the ServiceAccounts of the meshed
// pods that match, and every other pod sharing one of those ServiceAccounts is allowed as well.
// Compile reports each such widening as a warning on the policy.
package accesspolicy
