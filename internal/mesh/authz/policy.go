package authz

// Policy is the compiled set of inbound rules for one workload.
//
// Semantics, in order:
//   - A peer without a verified mesh identity (plain text, or TLS that is not the mesh's) is
//     refused unless Permissive is set.
//   - No rules and not DefaultDeny: no AccessPolicy selects the workload, so every peer that
//     got this far is allowed (any meshed peer; plaintext peers too when Permissive).
//   - No rules and DefaultDeny: the namespace opted into default-deny; everything is refused.
//   - Rules: a workload selected by any AccessPolicy denies everything no rule allows. Rules
//     only allow; the first rule that matches is reported.
type Policy struct {
	// DefaultDeny refuses every connection no rule allows, even when there are no rules.
	DefaultDeny bool `json:"defaultDeny,omitempty"`
	// Permissive lets peers without a mesh identity (plain text) through on captured ports,
	// for migrating workloads into the mesh. They can match only rules that name neither
	// Principals nor Provenance.
	Permissive bool `json:"permissive,omitempty"`
	// Rules that allow traffic.
	Rules []Rule `json:"rules,omitempty"`
}

// Rule allows peers to reach ports. Every non-empty condition must hold; within a condition
// any listed value matches.
type Rule struct {
	// Name identifies the rule in logs and metrics, conventionally the AccessPolicy's
	// "namespace/name" (with "#<index>" for its ingress entry).
	Name string `json:"name"`
	// Ports the rule applies to (the destination port the client dialled). Empty means all.
	Ports []uint16 `json:"ports,omitempty"`
	// Principals are exact SPIFFE IDs ("spiffe://td/ns/N/sa/S") or a namespace pattern
	// ("spiffe://td/ns/N/*"). Empty means any peer.
	Principals []string `json:"principals,omitempty"`
	// Provenance lists signing authorities; the peer's certificate must carry at least one
	// of them in its provenance extension. Empty means provenance is not required.
	Provenance []string `json:"provenance,omitempty"`
	// HTTP restricts the rule to matching HTTP requests. Nil means any traffic on the port.
	HTTP *HTTPMatch `json:"http,omitempty"`
}

// Authorize decides whether peer may reach port and, when req is not nil, send that HTTP
// request. With req nil it decides the connection: a rule with HTTP conditions cannot allow a
// connection by itself, so when only such rules could match the decision is a refusal with
// NeedsHTTP set, and the caller must authorize each request. A nil Policy refuses everything.
func (p *Policy) Authorize(peer Peer, port uint16, req *HTTPRequest) Decision {
	switch {
	case p == nil:
		return Decision{Reason: ReasonNoPolicyLoaded}
	case !peer.Authenticated() && !p.Permissive:
		return Decision{Reason: ReasonPlaintext}
	case len(p.Rules) == 0 && p.DefaultDeny:
		return Decision{Reason: ReasonDefaultDeny}
	case len(p.Rules) == 0:
		return Decision{Allowed: true, Reason: ReasonUnselected}
	}
	var target requestTarget
	needsHTTP := false
	for i := range p.Rules {
		r := &p.Rules[i]
		if !r.matchesPort(port) || !r.matchesPeer(peer) {
			continue
		}
		switch {
		case r.HTTP == nil:
			return Decision{Allowed: true, Rule: r.Name, Reason: ReasonRule}
		case req == nil:
			needsHTTP = true
		case r.HTTP.matches(req, &target):
			return Decision{Allowed: true, Rule: r.Name, Reason: ReasonRule}
		}
	}
	return Decision{Reason: ReasonNoRuleMatched, NeedsHTTP: needsHTTP}
}

// NeedsHTTP reports whether some rule for port has HTTP conditions, that is whether the
// traffic on port may have to be inspected request by request.
func (p *Policy) NeedsHTTP(port uint16) bool {
	if p == nil {
		return false
	}
	for i := range p.Rules {
		if p.Rules[i].HTTP != nil && p.Rules[i].matchesPort(port) {
			return true
		}
	}
	return false
}

func (r *Rule) matchesPort(port uint16) bool {
	if len(r.Ports) == 0 {
		return true
	}
	for _, p := range r.Ports {
		if p == port {
			return true
		}
	}
	return false
}

// matchesPeer checks Principals and Provenance. A rule with either condition needs an
// authenticated peer; one with neither matches any peer, plaintext included.
func (r *Rule) matchesPeer(peer Peer) bool {
	if len(r.Principals) == 0 && len(r.Provenance) == 0 {
		return true
	}
	if !peer.Authenticated() {
		return false
	}
	if len(r.Principals) > 0 && !matchesAnyPrincipal(r.Principals, peer) {
		return false
	}
	return len(r.Provenance) == 0 || peer.hasAnyProvenance(r.Provenance)
}
