// Package provenance reads and writes the controller-signed provenance annotation of a pod,
// security.outrider.dev/provenance: "v1;<key-id>;<authorities>;<signature>".
//
// After image trust has verified every image of a pod, the admission controller signs (Sign)
// the pod's namespace, ServiceAccount, pinned images and the signing authorities it verified,
// with an Ed25519 key only it holds. The identity service verifies the annotation (Verify)
// against the live pod it bound the proxy's token to, with public keys only, and passes the
// authorities to the CA, which writes them into the workload certificate. Anything wrong —
// missing, malformed, unknown key, bad signature, an image not pinned or not the one running —
// means no provenance, never a refused identity. See docs/identity.md, "Threat model".
//
// The package is pure: no clients, no clock, no logging.
package provenance
