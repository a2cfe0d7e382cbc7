package authz

// Reason says why a decision was taken. The set is fixed, so it can label metrics.
type Reason string

// The reasons Authorize returns.
const (
	// ReasonRule: a rule allowed the traffic (Decision.Rule names it).
	ReasonRule Reason = "rule"
	// ReasonUnselected: no policy selects the workload and it is not default-deny.
	ReasonUnselected Reason = "unselected"
	// ReasonPlaintext: the peer has no mesh identity and the policy is not permissive.
	ReasonPlaintext Reason = "plaintext-refused"
	// ReasonDefaultDeny: the workload is default-deny and has no rules.
	ReasonDefaultDeny Reason = "default-deny"
	// ReasonNoRuleMatched: the workload has rules and none allowed the traffic.
	ReasonNoRuleMatched Reason = "no-rule-matched"
	// ReasonNoPolicyLoaded: the proxy has no policy yet; it fails closed.
	ReasonNoPolicyLoaded Reason = "no-policy-loaded"
)

// Decision is the outcome of Authorize.
type Decision struct {
	Allowed bool
	// Rule names the rule that allowed the traffic, empty otherwise.
	Rule string
	// Reason is why, from a fixed set.
	Reason Reason
	// NeedsHTTP is set on a connection-level refusal when a rule with HTTP conditions matches
	// the peer and port: the connection may proceed, but only requests that Authorize allows.
	NeedsHTTP bool
}
