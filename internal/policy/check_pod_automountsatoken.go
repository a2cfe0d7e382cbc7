package policy

// pod.automountServiceAccountToken: pods do not get an API token they did not ask for.
//
// Restricted: spec.automountServiceAccountToken of the pod. Allowed: false. Pods that call the
// Kubernetes API can set it to true explicitly and suppress this check with a reason.
var checkAutomountSAToken = &Check{
	ID:          "pod.automountServiceAccountToken",
	Title:       "No automatic ServiceAccount token",
	Severity:    SeverityLow,
	Remediation: "Set automountServiceAccountToken: false unless the pod calls the Kubernetes API.",
	DefaultOn:   true,
	Eval: func(in *Input) []Violation {
		a := in.Template.Spec.AutomountServiceAccountToken
		if a != nil && !*a {
			return nil
		}
		return []Violation{{
			Path:    in.Template.Path + ".automountServiceAccountToken",
			Message: "the pod mounts a ServiceAccount token it may not need",
		}}
	},
}
