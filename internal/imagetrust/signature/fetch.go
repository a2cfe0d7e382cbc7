package signature

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Fetch reads everything the registry holds for the image digestRef: cosign's signature and
// attestation tags (<repo>:sha256-<hex>.sig and .att) and the image's OCI 1.1 referrers
// (cosign's OCI 1.1 signatures and attestations, and Sigstore bundles). Missing tags and an
// empty referrers list are empty evidence, not errors; malformed items are listed in
// Evidence.Skipped. Any other registry error is returned. opts carry transport,
// authentication and the like; ctx is added to them.
//
// The three lookups run concurrently over one puller, so the registry is pinged and
// authenticated once: against a remote registry each request is a round trip.
func Fetch(ctx context.Context, digestRef name.Digest, opts ...remote.Option) (*Evidence, error) {
	opts = append(append([]remote.Option(nil), opts...), remote.WithContext(ctx))
	puller, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, fmt.Errorf("reading the signatures of %s: %w", digestRef, err)
	}
	opts = append(opts, remote.Reuse(puller))
	sig := &fetcher{ev: &Evidence{Digest: digestRef}, opts: opts}
	att := &fetcher{ev: &Evidence{Digest: digestRef}, opts: opts}
	ref := &fetcher{ev: &Evidence{Digest: digestRef}, opts: opts}
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, run := range []func() error{
		func() error { return sig.taggedManifest(tagFor(digestRef, "sig"), signatureLayers, &sig.ev.signatures) },
		func() error {
			return att.taggedManifest(tagFor(digestRef, "att"), attestationLayers, &att.ev.attestations)
		},
		func() error { return ref.referrers(digestRef) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = run()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	// Merged in a fixed order: tag signatures, tag attestations, then referrers.
	ev := sig.ev
	ev.attestations = append(ev.attestations, att.ev.attestations...)
	ev.signatures = append(ev.signatures, ref.ev.signatures...)
	ev.attestations = append(ev.attestations, ref.ev.attestations...)
	ev.Skipped = append(append(ev.Skipped, att.ev.Skipped...), ref.ev.Skipped...)
	return ev, nil
}

// tagFor is cosign's tag for an image's signatures ("sig") or attestations ("att").
func tagFor(d name.Digest, suffix string) name.Tag {
	return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + "." + suffix)
}

type fetcher struct {
	ev   *Evidence
	opts []remote.Option
}

type layerParser func(source string, blob []byte, ann map[string]string) (*candidate, error)

// layerKind is a kind of evidence layer: its parser and the layer media types it reads.
type layerKind struct {
	parse      layerParser
	mediaTypes []string
}

var (
	signatureLayers   = layerKind{parseSignatureLayer, []string{SimpleSigningMediaType}}
	attestationLayers = layerKind{parseAttestationLayer, []string{DSSEMediaType}}
	bundleLayers      = layerKind{parseBundleLayer, []string{BundleMediaType, bundleMediaTypeV02, bundleMediaTypeV01}}
)

func (f *fetcher) skip(format string, args ...any) {
	f.ev.Skipped = append(f.ev.Skipped, fmt.Sprintf(format, args...))
}

// taggedManifest reads the manifest at tag, if any, and parses its layers into dst.
func (f *fetcher) taggedManifest(tag name.Tag, kind layerKind, dst *[]*candidate) error {
	desc, err := remote.Get(tag, f.opts...)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fetching %s: %w", tag, err)
	}
	return f.manifest(tag.TagStr(), desc, kind, dst)
}

// manifest parses the layers of one signature, attestation or bundle manifest.
func (f *fetcher) manifest(source string, desc *remote.Descriptor, kind layerKind, dst *[]*candidate) error {
	if desc.MediaType.IsIndex() {
		f.skip("%s: an index, not a manifest", source)
		return nil
	}
	img, err := desc.Image()
	if err != nil {
		f.skip("%s: %v", source, err)
		return nil
	}
	m, err := img.Manifest()
	if err != nil {
		f.skip("%s: %v", source, err)
		return nil
	}
	for i, l := range m.Layers {
		src := fmt.Sprintf("%s layer %d", source, i)
		if i == MaxLayers {
			f.skip("%s: more than %d layers, the rest ignored", source, MaxLayers)
			break
		}
		if !slices.Contains(kind.mediaTypes, string(l.MediaType)) {
			f.skip("%s: media type %q is not %s", src, l.MediaType, strings.Join(kind.mediaTypes, " or "))
			continue
		}
		blob, ok, err := f.blob(img, l, src)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		c, err := kind.parse(src, blob, l.Annotations)
		if err != nil {
			f.skip("%s: %v", src, err)
			continue
		}
		*dst = append(*dst, c)
	}
	return nil
}

// blob reads one layer, bounded by MaxBlobBytes. ok is false when the layer was skipped.
func (f *fetcher) blob(img v1.Image, l v1.Descriptor, src string) (blob []byte, ok bool, err error) {
	if l.Size > MaxBlobBytes || l.Size < 0 {
		f.skip("%s: %d bytes, over the limit of %d", src, l.Size, MaxBlobBytes)
		return nil, false, nil
	}
	layer, err := img.LayerByDigest(l.Digest)
	if err != nil {
		f.skip("%s: %v", src, err)
		return nil, false, nil
	}
	rc, err := layer.Compressed()
	if err == nil {
		defer rc.Close()
		blob, err = io.ReadAll(io.LimitReader(rc, MaxBlobBytes+1))
	}
	switch {
	case isNotFound(err):
		f.skip("%s: blob %s not found", src, l.Digest)
		return nil, false, nil
	case err != nil && isRegistryFailure(err):
		return nil, false, fmt.Errorf("reading %s: %w", src, err)
	case err != nil: // content that does not match its descriptor
		f.skip("%s: %v", src, err)
		return nil, false, nil
	case len(blob) > MaxBlobBytes:
		f.skip("%s: over the limit of %d bytes", src, MaxBlobBytes)
		return nil, false, nil
	}
	return blob, true, nil
}

// isRegistryFailure tells a failure to talk to the registry (which Fetch returns) from a blob
// whose content does not match its descriptor (which it skips).
func isRegistryFailure(err error) bool {
	var terr *transport.Error
	var nerr net.Error
	return errors.As(err, &terr) || errors.As(err, &nerr) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF)
}

// isNotFound tells a registry's 404 (no such tag, repository or blob) from other errors.
func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}
