// Package ca is Outrider's workload certificate authority: it issues short-lived X.509
// SPIFFE identities (X509-SVIDs) for spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>,
// serves the trust bundle, rotates its root with an overlap, renews its intermediate and
// optionally stamps a leaf with the image provenance that admission verified.
//
// The package is pure: no Kubernetes, no RPC, no logging and no wall clock it was not given.
// The identity service authenticates the caller (TokenReview, bound-pod checks) and then calls
// Issue; the CA trusts its caller for the names and the provenance and trusts nothing in the
// certificate signing request except the public key and its proof of possession.
//
// Chain: root → intermediate → leaf. Only the intermediate key signs leaves, so the root key
// is needed only to create intermediates and can be kept out of the running service (see
// Authority). The trust bundle holds roots only; leaves are served with their intermediate.
package ca
