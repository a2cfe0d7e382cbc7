// Package server is `outrider identity`: the gRPC service (api/proto/identity/v1) that issues
// workload certificates to proxies and streams them their trust bundle, policy and endpoints,
// and Run, which wires it to the cluster: the CA kept in a Secret (castore), TokenReview and
// pod binding (auth), provenance verification (provenance), and the pushed state (push).
//
// Errors from those packages are typed; they become gRPC status codes here, at the edge, and
// every refusal is logged with its reason.
package server
