package signature

import (
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// emptyMediaType is the OCI empty descriptor's media type, the config of artifact manifests.
const emptyMediaType = "application/vnd.oci.empty.v1+json"

// referrers reads the image's OCI 1.1 referrers that hold signatures or attestations:
// cosign's OCI 1.1 signature manifests (--registry-referrers-mode=oci-1-1), its attestation
// referrers, and Sigstore bundles (--new-bundle-format). Other artifact types are ignored.
//
// A referrer listed with no artifactType, or with the empty config's media type, is fetched
// and classified by its manifest: some registries (go-containerregistry's among them) list
// the config's media type even when the manifest names its artifactType.
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
		kind, dst := f.classify(desc.ArtifactType)
		if dst == nil && desc.ArtifactType != "" && desc.ArtifactType != emptyMediaType {
			continue
		}
		if considered == MaxReferrers {
			f.skip("referrers of %s: more than %d considered, the rest ignored", d, MaxReferrers)
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
		if dst == nil {
			if kind, dst = f.classify(manifestArtifactType(rd)); dst == nil {
				continue
			}
		}
		var found []*candidate
		if err := f.manifest("referrer "+desc.Digest.String(), rd, kind, &found); err != nil {
			return err
		}
		for _, c := range found {
			// A bundle holds an image signature (cosign sign) or an attestation.
			if c.bundleSignature {
				f.ev.signatures = append(f.ev.signatures, c)
			} else {
				*dst = append(*dst, c)
			}
		}
	}
	return nil
}

// classify picks the parser for a referrer's artifact type, and where its candidates go.
func (f *fetcher) classify(artifactType string) (layerKind, *[]*candidate) {
	switch artifactType {
	case SignatureArtifactType:
		return signatureLayers, &f.ev.signatures
	case AttestationArtifactType, InTotoPayloadType:
		return attestationLayers, &f.ev.attestations
	case BundleMediaType, bundleMediaTypeV02, bundleMediaTypeV01:
		return bundleLayers, &f.ev.attestations
	}
	return layerKind{}, nil
}

// manifestArtifactType is a manifest's artifactType, or else its config's media type.
func manifestArtifactType(d *remote.Descriptor) string {
	var m struct {
		ArtifactType string        `json:"artifactType"`
		Config       v1.Descriptor `json:"config"`
	}
	if json.Unmarshal(d.Manifest, &m) != nil {
		return ""
	}
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	return string(m.Config.MediaType)
}
