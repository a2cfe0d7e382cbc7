package vuln

import (
	"strings"

	"github.com/openvex/go-vex/pkg/vex"
	"github.com/package-url/packageurl-go"

	"github.com/outrider-sec/outrider/internal/imageref"
)

// artifactKey is a report's image in the forms VEX products name it.
type artifactKey struct {
	digest string // "sha256:…", or ""
	ref    imageref.Reference
	hasRef bool // the artifact's name parses as an image reference
}

func newArtifactKey(a Artifact) artifactKey {
	k := artifactKey{digest: a.Digest}
	if ref, err := imageref.Parse(a.Name); err == nil {
		k.ref, k.hasRef = ref, true
		if k.digest == "" {
			k.digest = ref.Digest
		}
	}
	return k
}

// componentIsImage reports whether a VEX product names the image. Each of the product's @id,
// its purl identifier and its sha-256 hash is tried:
//
//   - pkg:oci/<name>@sha256:<digest>?repository_url=<registry/repo>&tag=<tag>: with a digest
//     (the purl version) the digest must equal the image's; without one, repository_url is
//     required. Whatever is given must agree: the name with the repository's last path segment,
//     repository_url (normalised as an image reference) with the repository, tag with the tag.
//     Other purl types never name an image.
//   - sha256:<digest>, or a sha-256 hash: equal to the image's digest.
//   - an image reference ("ghcr.io/acme/api", "ghcr.io/acme/api:1.4", "…@sha256:…"),
//     normalised like any image: the same registry and repository (never a prefix or a
//     lookalike host); a tag, if given, equal to the image's; a digest, if given, equal to it.
func componentIsImage(c vex.Component, key artifactKey) bool {
	ids := []string{c.ID, c.Identifiers[vex.PURL]}
	for _, h := range []vex.Hash{c.Hashes[vex.SHA256]} {
		if h != "" {
			ids = append(ids, "sha256:"+strings.TrimPrefix(string(h), "sha256:"))
		}
	}
	for _, id := range ids {
		if id != "" && identifierIsImage(strings.TrimSpace(id), key) {
			return true
		}
	}
	return false
}

func identifierIsImage(id string, key artifactKey) bool {
	switch {
	case strings.HasPrefix(id, "pkg:"):
		return purlIsImage(id, key)
	case strings.HasPrefix(id, "sha256:"):
		return key.digest != "" && id == key.digest
	}
	ref, err := imageref.Parse(id)
	if err != nil || !key.hasRef || ref.Name() != key.ref.Name() {
		return false
	}
	if ref.Digest != "" && ref.Digest != key.digest {
		return false
	}
	return ref.Tag == "" || ref.Tag == key.ref.Tag
}

func purlIsImage(id string, key artifactKey) bool {
	p, err := packageurl.FromString(id)
	if err != nil || p.Type != "oci" {
		return false
	}
	q := p.Qualifiers.Map()
	repoURL, hasRepo := q["repository_url"]
	if p.Version == "" && !hasRepo {
		return false // "pkg:oci/api" alone would name every image called api anywhere
	}
	if p.Version != "" && (key.digest == "" || p.Version != key.digest) {
		return false
	}
	if key.hasRef {
		repo := key.ref.Repository
		if !strings.EqualFold(p.Name, repo[strings.LastIndexByte(repo, '/')+1:]) {
			return false
		}
		if tag, ok := q["tag"]; ok && tag != key.ref.Tag {
			return false
		}
	}
	if hasRepo {
		ref, err := imageref.Parse(repoURL)
		if err != nil || !key.hasRef || ref.Name() != key.ref.Name() {
			return false
		}
	}
	return true
}

// subcomponentIsPackage reports whether a product's subcomponent is the finding's package: the
// same purl (vex.PurlMatches: the subcomponent's qualifiers and version, when given, must
// agree); for a finding without a purl (SARIF), a purl with the package's name and, if it has
// one, its installed version; or the package's name as its @id.
func subcomponentIsPackage(c vex.Component, f Finding) bool {
	for _, id := range []string{c.ID, c.Identifiers[vex.PURL]} {
		switch {
		case id == "":
		case strings.HasPrefix(id, "pkg:"):
			if f.PURL != "" && vex.PurlMatches(id, f.PURL) || f.PURL == "" && purlNamesPackage(id, f) {
				return true
			}
		case id == f.Package:
			return true
		}
	}
	return false
}

// purlNamesPackage compares a purl with a finding that has only a name and a version.
func purlNamesPackage(id string, f Finding) bool {
	p, err := packageurl.FromString(id)
	if err != nil || p.Name != f.Package || f.Package == "" {
		return false
	}
	return p.Version == "" || p.Version == f.InstalledVersion
}
