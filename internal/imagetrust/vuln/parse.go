package vuln

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/outrider-sec/outrider/internal/imageref"
)

// maxReportSize bounds a report document; real scans of large images stay far below it.
const maxReportSize = 256 << 20

// errUnknownFormat says a document is none of the formats Parse reads.
var errUnknownFormat = errors.New("not a vulnerability report: want Trivy JSON, Grype JSON, SARIF 2.1.0, " +
	"a cosign vulnerability attestation (in-toto statement) or a DSSE envelope holding one")

// Parse reads a vulnerability report and detects its format: Trivy JSON, Grype JSON, SARIF
// 2.1.0, a cosign vulnerability attestation (an in-toto statement with predicate type
// https://cosign.sigstore.dev/attestation/vuln/v1) or a DSSE envelope holding one. source names
// the document in errors. Signatures on attestations are not verified here.
func Parse(data []byte, source string) (*Report, error) {
	r, err := parse(data, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return r, nil
}

// parse detects the format by the top-level keys, which are case-sensitive here (encoding/json
// is not). wrapped allows attestations and envelopes, which must not nest.
func parse(data []byte, wrapped bool) (*Report, error) {
	if len(data) > maxReportSize {
		return nil, fmt.Errorf("report is %d bytes, more than the %d allowed", len(data), maxReportSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	has := func(k string) bool { _, ok := keys[k]; return ok }
	switch {
	case has("SchemaVersion") || has("ArtifactName") || has("Results"):
		return parseTrivy(data)
	case has("matches") && (has("source") || has("descriptor")):
		return parseGrype(data)
	case has("runs") && (has("version") || has("$schema")):
		return parseSARIF(data)
	case wrapped && has("predicateType"):
		return parseStatement(data)
	case wrapped && has("payloadType") && has("payload"):
		return parseEnvelope(data)
	case !wrapped && (has("predicateType") || has("payloadType")):
		return nil, errors.New("an attestation cannot hold another attestation")
	}
	return nil, errUnknownFormat
}

// fieldError names the place in a document that is wrong.
func fieldError(path, format string, args ...any) error {
	return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
}

// digestFrom returns the "sha256:…" part of a "name@sha256:…" reference, "" if there is none.
func digestFrom(ref string) string {
	if i := strings.LastIndexByte(ref, '@'); i >= 0 && validDigest(ref[i+1:]) {
		return ref[i+1:]
	}
	return ""
}

// validDigest accepts "sha256:" and 64 lower-case hex digits.
func validDigest(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// pickRepoDigest chooses, among "repo@sha256:…" entries, the one of name's repository, else the
// first; it returns "" when none holds a valid digest.
func pickRepoDigest(name string, repoDigests []string) string {
	want := ""
	if ref, err := imageref.Parse(name); err == nil {
		want = ref.Name()
	}
	first := ""
	for _, rd := range repoDigests {
		d := digestFrom(rd)
		if d == "" {
			continue
		}
		if first == "" {
			first = d
		}
		if ref, err := imageref.Parse(rd); err == nil && want != "" && ref.Name() == want {
			return d
		}
	}
	return first
}

// finishArtifact fills the digest from a pinned name and refuses a report that names no image.
func finishArtifact(a *Artifact) error {
	a.Name = strings.TrimSpace(a.Name)
	if a.Digest == "" {
		a.Digest = digestFrom(a.Name)
	}
	if a.Name == "" && a.Digest == "" {
		return errors.New("the report names no image (no artifact name or digest)")
	}
	if a.Digest != "" && !validDigest(a.Digest) {
		return fmt.Errorf("artifact digest %q is not sha256:<64 hex digits>", a.Digest)
	}
	return nil
}
