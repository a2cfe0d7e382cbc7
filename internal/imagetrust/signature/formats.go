package signature

import "strings"

// The media types, annotation keys and predicate types of cosign's on-registry formats.
const (
	// SimpleSigningMediaType is the layer media type of a cosign image signature.
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// DSSEMediaType is the layer media type of a cosign attestation (a DSSE envelope).
	DSSEMediaType = "application/vnd.dsse.envelope.v1+json"
	// InTotoPayloadType is the DSSE payload type of an in-toto statement.
	InTotoPayloadType = "application/vnd.in-toto+json"
	// BundleMediaType is the media type of a Sigstore bundle v0.3, as cosign's
	// --new-bundle-format attaches it through the referrers API.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// SignatureArtifactType is the artifactType of cosign's OCI 1.1 signature referrers
	// (--registry-referrers-mode=oci-1-1).
	SignatureArtifactType = "application/vnd.dev.cosign.artifact.sig.v1+json"
	// AttestationArtifactType is the artifactType cosign gives attestation referrers.
	AttestationArtifactType = "application/vnd.dev.cosign.artifact.att.v1+json"

	annotationSignature   = "dev.cosignproject.cosign/signature"
	annotationCertificate = "dev.sigstore.cosign/certificate"
	annotationChain       = "dev.sigstore.cosign/chain"
	annotationBundle      = "dev.sigstore.cosign/bundle"
	annotationPredicate   = "predicateType"
)

// Predicate types with short names, as cosign's --type flag knows them.
const (
	// SLSAProvenanceV02 is the SLSA provenance v0.2 predicate type (cosign: slsaprovenance).
	SLSAProvenanceV02 = "https://slsa.dev/provenance/v0.2"
	// SLSAProvenanceV1 is the SLSA provenance v1 predicate type (cosign: slsaprovenance1).
	SLSAProvenanceV1 = "https://slsa.dev/provenance/v1"
	// VulnPredicateType is cosign's vulnerability scan predicate type (cosign: vuln).
	VulnPredicateType = "https://cosign.sigstore.dev/attestation/vuln/v1"
	// CosignSignPredicateType is the predicate of the in-toto statement that
	// `cosign sign --new-bundle-format` signs in place of a simple-signing payload.
	CosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"
)

var shortPredicateNames = map[string]string{
	"slsaprovenance":   SLSAProvenanceV02,
	"slsaprovenance02": SLSAProvenanceV02,
	"slsaprovenance1":  SLSAProvenanceV1,
	"vuln":             VulnPredicateType,
	"spdx":             "https://spdx.dev/Document",
	"spdxjson":         "https://spdx.dev/Document",
	"cyclonedx":        "https://cyclonedx.org/bom",
	"link":             "https://in-toto.io/Link/v1",
	"custom":           "https://cosign.sigstore.dev/attestation/v1",
	"openvex":          "https://openvex.dev/ns",
}

// PredicateTypeURI returns the predicate type URI for a short name as cosign's --type flag
// accepts it (slsaprovenance, slsaprovenance1, vuln, spdxjson, cyclonedx, link, custom,
// openvex); any other value is returned unchanged, so a full URI passes through.
func PredicateTypeURI(name string) string {
	if uri, ok := shortPredicateNames[strings.ToLower(name)]; ok {
		return uri
	}
	return name
}
