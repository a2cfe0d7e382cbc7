package signature

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// referrers reads the image's OCI 1.1 referrers that hold signatures or attestations:
// cosign's OCI 1.1 signature manifests (--registry-referrers-mode=oci-1-1), its attestation
// referrers, and Sigstore bundles (--new-bundle-format). Other artifact types are ignored.
func (f *fetcher) referrers(d name.Digest) error {
	idx, err := remote.Referrers(d, f.opts...)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing referrers of %s: %w", d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("listing referrers of %s: %w", d, err)
	}
	considered := 0
	for _, desc := range im.Manifests {
		var parse layerParser
		dst := &f.ev.attestations
		switch desc.ArtifactType {
		case SignatureArtifactType:
			parse, dst = parseSignatureLayer, &f.ev.signatures
		case AttestationArtifactType, InTotoPayloadType:
			parse = parseAttestationLayer
		case BundleMediaType, bundleMediaTypeV02, bundleMediaTypeV01:
			parse = parseBundleLayer
		default:
			continue
		}
		if considered == MaxReferrers {
			f.skip("referrers of %s: more than %d, the rest ignored", d, MaxReferrers)
			break
		}
		considered++
		ref := d.Context().Digest(desc.Digest.String())
		rd, err := remote.Get(ref, f.opts...)
		if isNotFound(err) {
			f.skip("referrer %s: not found", desc.Digest)
			continue
		}
		if err != nil {
			return fmt.Errorf("fetching referrer %s: %w", ref, err)
		}
		var found []*candidate
		if err := f.manifest("referrer "+desc.Digest.String(), rd, parse, &found); err != nil {
			return err
		}
		for _, c := range found {
			// A bundle signs either an image signature (cosign sign) or an attestation.
			if c.bundleSignature {
				f.ev.signatures = append(f.ev.signatures, c)
			} else {
				*dst = append(*dst, c)
			}
		}
	}
	return nil
}
