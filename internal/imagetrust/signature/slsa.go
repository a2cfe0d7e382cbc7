package signature

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Provenance is what policy reads from a SLSA provenance predicate.
type Provenance struct {
	// BuilderID identifies the build platform that produced the image.
	BuilderID string
	// SourceURIs are the source repositories the build read: v0.2's
	// invocation.configSource.uri and materials, v1's externalParameters and
	// resolvedDependencies. Distinct, in order of appearance.
	SourceURIs []string
}

// ParseProvenance reads a verified statement's SLSA provenance predicate (v0.2 or v1).
func ParseProvenance(s Statement) (*Provenance, error) {
	switch s.PredicateType {
	case SLSAProvenanceV02:
		return parseProvenanceV02(s.Predicate)
	case SLSAProvenanceV1:
		return parseProvenanceV1(s.Predicate)
	}
	return nil, fmt.Errorf("predicate type %q is not SLSA provenance v0.2 or v1", s.PredicateType)
}

func parseProvenanceV02(raw json.RawMessage) (*Provenance, error) {
	var p struct {
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
		Invocation struct {
			ConfigSource struct {
				URI string `json:"uri"`
			} `json:"configSource"`
		} `json:"invocation"`
		Materials []struct {
			URI string `json:"uri"`
		} `json:"materials"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("SLSA provenance v0.2: %v", err)
	}
	out := &Provenance{BuilderID: p.Builder.ID}
	out.addSource(p.Invocation.ConfigSource.URI)
	for _, m := range p.Materials {
		out.addSource(m.URI)
	}
	return out, nil
}

func parseProvenanceV1(raw json.RawMessage) (*Provenance, error) {
	var p struct {
		BuildDefinition struct {
			ExternalParameters   json.RawMessage `json:"externalParameters"`
			ResolvedDependencies []struct {
				URI string `json:"uri"`
			} `json:"resolvedDependencies"`
		} `json:"buildDefinition"`
		RunDetails struct {
			Builder struct {
				ID string `json:"id"`
			} `json:"builder"`
		} `json:"runDetails"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("SLSA provenance v1: %v", err)
	}
	out := &Provenance{BuilderID: p.RunDetails.Builder.ID}
	// externalParameters is builder-specific; the common shapes name the source as
	// source (a string or {uri}), repository, or workflow.repository (GitHub's builders).
	var ext struct {
		Source     json.RawMessage `json:"source"`
		Repository string          `json:"repository"`
		Workflow   struct {
			Repository string `json:"repository"`
		} `json:"workflow"`
	}
	if len(p.BuildDefinition.ExternalParameters) > 0 && json.Unmarshal(p.BuildDefinition.ExternalParameters, &ext) == nil {
		var src string
		var srcObj struct {
			URI string `json:"uri"`
		}
		if json.Unmarshal(ext.Source, &src) == nil {
			out.addSource(src)
		} else if json.Unmarshal(ext.Source, &srcObj) == nil {
			out.addSource(srcObj.URI)
		}
		out.addSource(ext.Repository)
		out.addSource(ext.Workflow.Repository)
	}
	for _, d := range p.BuildDefinition.ResolvedDependencies {
		out.addSource(d.URI)
	}
	return out, nil
}

func (p *Provenance) addSource(uri string) {
	if uri != "" && !slices.Contains(p.SourceURIs, uri) {
		p.SourceURIs = append(p.SourceURIs, uri)
	}
}
