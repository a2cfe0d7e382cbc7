// Package signature reads, verifies and writes cosign-compatible image signatures and in-toto
// attestations stored beside an image in its OCI registry.
//
// Fetch gathers the evidence a registry holds for one image digest (cosign's ".sig" and ".att"
// tags, and OCI 1.1 referrers including Sigstore bundles); verification against a list of
// trusted Authorities is then CPU-only and safe for concurrent use. Sign and Attest write the
// same formats for pipelines that do not run cosign. The formats, and where they surprised us,
// are described in docs/image-signing.md.
package signature
