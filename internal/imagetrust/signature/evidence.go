package signature

import "github.com/google/go-containerregistry/pkg/name"

// Limits on what Fetch reads for one image, so a hostile registry cannot exhaust memory.
const (
	// MaxBlobBytes bounds one signature, attestation or bundle blob.
	MaxBlobBytes = 4 << 20
	// MaxLayers bounds the layers read from one signature or attestation manifest.
	MaxLayers = 64
	// MaxReferrers bounds the referrers considered for one image.
	MaxReferrers = 64
)

// Evidence is what a registry holds about one image digest: candidate signatures and
// attestations, none of them verified yet. Verification methods only read it, so one
// Evidence may be verified against many policies at once.
type Evidence struct {
	// Digest is the image the evidence was fetched for.
	Digest name.Digest
	// Skipped says, for diagnostics, which items were found but not considered (malformed,
	// over a limit, or a format this package does not read).
	Skipped []string

	signatures   []*candidate
	attestations []*candidate
}

// SignatureCount is the number of candidate signatures found (verified or not).
func (e *Evidence) SignatureCount() int { return len(e.signatures) }

// AttestationCount is the number of candidate attestations found (verified or not).
func (e *Evidence) AttestationCount() int { return len(e.attestations) }
