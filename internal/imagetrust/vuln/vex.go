package vuln

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/openvex/go-vex/pkg/vex"
)

// Suppressed is a finding that an OpenVEX statement removed.
type Suppressed struct {
	Finding Finding
	// Status is the statement's status: "not_affected" or "fixed".
	Status string
	// Justification is the statement's justification, else its impact statement.
	Justification string
	// Document is the @id of the VEX document the statement is in.
	Document string
}

// ParseVEX reads an OpenVEX JSON document and refuses one whose statements are invalid (a
// not_affected without justification or impact statement, an unknown status, no vulnerability
// or no product), so a VEX file that cannot mean what its author intended is an input error
// rather than silently ignored. source names the document in errors.
func ParseVEX(data []byte, source string) (*vex.VEX, error) {
	doc, err := parseVEX(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return doc, nil
}

func parseVEX(data []byte) (*vex.VEX, error) {
	var probe struct {
		Context string `json:"@context"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if !strings.HasPrefix(probe.Context, vex.Context) {
		return nil, fmt.Errorf("not an OpenVEX document: @context is %q, want %s/…", probe.Context, vex.Context)
	}
	doc, err := vex.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("OpenVEX: %w", err)
	}
	for i := range doc.Statements {
		st := &doc.Statements[i]
		if err := st.Validate(); err != nil {
			return nil, fmt.Errorf("OpenVEX: statements[%d]: %w", i, err)
		}
		if st.Vulnerability.Name == "" && st.Vulnerability.ID == "" {
			return nil, fmt.Errorf("OpenVEX: statements[%d]: names no vulnerability", i)
		}
		if len(st.Products) == 0 {
			return nil, fmt.Errorf("OpenVEX: statements[%d]: names no product", i)
		}
	}
	return doc, nil
}

// ApplyVEX splits r's findings into those that remain and those that OpenVEX statements
// remove. For each finding, the statements that name its vulnerability (by name, @id or alias,
// against the finding's ID and aliases, case-insensitively) and a product that is r's image
// (see matchProduct) are collected from every document; the latest of them (its last_updated,
// else its timestamp, else its document's; a tie goes to the later document) decides. Status
// not_affected or fixed removes the finding; affected and under_investigation keep it.
func ApplyVEX(r *Report, docs []*vex.VEX) (remaining []Finding, suppressed []Suppressed) {
	key := newArtifactKey(r.Artifact)
	for _, f := range r.Findings {
		st, doc := effectiveStatement(f, key, docs)
		if st == nil || (st.Status != vex.StatusNotAffected && st.Status != vex.StatusFixed) {
			remaining = append(remaining, f)
			continue
		}
		why := string(st.Justification)
		if why == "" {
			why = st.ImpactStatement
		}
		suppressed = append(suppressed, Suppressed{Finding: f, Status: string(st.Status), Justification: why, Document: doc.ID})
	}
	return remaining, suppressed
}

func effectiveStatement(f Finding, key artifactKey, docs []*vex.VEX) (*vex.Statement, *vex.VEX) {
	var best *vex.Statement
	var bestDoc *vex.VEX
	var bestAt time.Time
	for _, doc := range docs {
		if doc == nil {
			continue
		}
		for i := range doc.Statements {
			st := &doc.Statements[i]
			if !vulnMatches(st.Vulnerability, f) || !statementNamesImage(st, f, key) {
				continue
			}
			at := statementTime(st, doc)
			if best == nil || !at.Before(bestAt) {
				best, bestDoc, bestAt = st, doc, at
			}
		}
	}
	return best, bestDoc
}

func statementTime(st *vex.Statement, doc *vex.VEX) time.Time {
	for _, t := range []*time.Time{st.LastUpdated, st.Timestamp, doc.LastUpdated, doc.Timestamp} {
		if t != nil {
			return *t
		}
	}
	return time.Time{}
}

func vulnMatches(v vex.Vulnerability, f Finding) bool {
	names := append([]string{string(v.Name), v.ID}, aliasStrings(v.Aliases)...)
	for _, want := range append([]string{f.ID}, f.Aliases...) {
		for _, n := range names {
			if n != "" && strings.EqualFold(n, want) {
				return true
			}
		}
	}
	return false
}

func aliasStrings(ids []vex.VulnerabilityID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out
}

// statementNamesImage reports whether one of the statement's products is the image and, when
// that product lists subcomponents, one of them is the finding's package.
func statementNamesImage(st *vex.Statement, f Finding, key artifactKey) bool {
	for _, p := range st.Products {
		if !componentIsImage(p.Component, key) {
			continue
		}
		if len(p.Subcomponents) == 0 {
			return true
		}
		for _, sc := range p.Subcomponents {
			if subcomponentIsPackage(sc.Component, f) {
				return true
			}
		}
	}
	return false
}
