package policy

import (
	"sort"

	psapolicy "k8s.io/pod-security-admission/policy"
)

// builtinChecks lists Outrider's own checks. Written out, not registered from init(), so the
// catalogue is one place to read.
var builtinChecks = []*Check{
	checkImageRegistry,
	checkImageDigest,
	checkImageLatest,
	checkImageVulnerabilities,
	checkImageReportAge,
	checkImageSignature,
	checkImageAttestation,
	checkReadOnlyRootFS,
	checkResources,
	checkAutomountSAToken,
	checkSecretLiteral,
	checkMeshProxyIdentity,
	checkMeshNetCapabilities,
	checkMeshPrivileged,
	checkMeshSharedNamespaces,
	checkMeshProxyVolumes,
	checkMeshReservedNames,
}

// CatalogEntry describes one check for `outrider checks`, SARIF rules and docs.
type CatalogEntry struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Severity    Severity `json:"severity"`
	Remediation string   `json:"remediation"`
	// DefaultOn is true for checks that run when no policy turns them off.
	DefaultOn bool `json:"defaultOn"`
	// Source is "pss" (upstream Pod Security Standards), "outrider" or "custom".
	Source string `json:"source"`
	// Level is the Pod Security Standards level of a pss check.
	Level string `json:"level,omitempty"`
}

// Catalog lists every built-in check: the upstream Pod Security Standards checks, then
// Outrider's own, each group sorted by ID.
func Catalog() []CatalogEntry {
	var pss []CatalogEntry
	for _, c := range psapolicy.DefaultChecks() {
		id := pssPrefix + string(c.ID)
		info := pssInfo(id)
		pss = append(pss, CatalogEntry{ID: id, Title: info.title, Severity: info.severity,
			Remediation: info.remediation, DefaultOn: true, Source: "pss", Level: string(c.Level)})
	}
	sort.Slice(pss, func(i, j int) bool { return pss[i].ID < pss[j].ID })
	own := make([]CatalogEntry, 0, len(builtinChecks))
	for _, c := range builtinChecks {
		own = append(own, CatalogEntry{ID: c.ID, Title: c.Title, Severity: c.Severity,
			Remediation: c.Remediation, DefaultOn: c.DefaultOn, Source: "outrider"})
	}
	sort.Slice(own, func(i, j int) bool { return own[i].ID < own[j].ID })
	return append(pss, own...)
}

// Lookup finds a built-in check's catalogue entry by ID.
func Lookup(id string) (CatalogEntry, bool) {
	for _, e := range Catalog() {
		if e.ID == id {
			return e, true
		}
	}
	return CatalogEntry{}, false
}
