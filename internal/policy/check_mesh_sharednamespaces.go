package policy

// mesh.sharedNamespaces: a meshed pod keeps its own network and its processes to itself.
//
// With hostNetwork the pod's traffic never meets the capture rules; with shareProcessNamespace
// (or hostPID) the application sees the proxy's processes and can read its memory and keys
// through /proc. Restricted: hostNetwork, hostPID and shareProcessNamespace of a meshed pod.
var checkMeshSharedNamespaces = &Check{
	ID:          "mesh.sharedNamespaces",
	Title:       "Meshed pods share no namespace",
	Severity:    SeverityCritical,
	Remediation: "Remove hostNetwork, hostPID and shareProcessNamespace from the pod spec.",
	DefaultOn:   true,
	Eval: func(in *Input) []Violation {
		if !meshed(in) {
			return nil
		}
		s := in.Template.Spec
		var out []Violation
		if s.HostNetwork {
			out = append(out, Violation{Path: in.Template.Path + ".hostNetwork",
				Message: "a meshed pod on the host network bypasses the capture rules"})
		}
		if s.HostPID {
			out = append(out, Violation{Path: in.Template.Path + ".hostPID",
				Message: "a meshed pod in the host's PID namespace can reach the proxy's processes"})
		}
		if s.ShareProcessNamespace != nil && *s.ShareProcessNamespace {
			out = append(out, Violation{Path: in.Template.Path + ".shareProcessNamespace",
				Message: "with a shared process namespace the application can read the proxy's memory and keys"})
		}
		return out
	},
}
