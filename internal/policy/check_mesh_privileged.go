package policy

import "fmt"

// mesh.privileged: no container in a meshed pod can gain what it was not given.
//
// A privileged container, or one that may escalate (setuid binaries, file capabilities), can
// obtain NET_ADMIN or the proxy's identity after admission. Restricted, for every container of
// a meshed pod: securityContext.privileged must not be true, and allowPrivilegeEscalation must
// be false explicitly (unset means true to the runtime).
var checkMeshPrivileged = &Check{
	ID:          "mesh.privileged",
	Title:       "Meshed apps cannot escalate",
	Severity:    SeverityCritical,
	Remediation: "Remove privileged and set securityContext.allowPrivilegeEscalation: false.",
	DefaultOn:   true,
	Eval: func(in *Input) []Violation {
		var out []Violation
		for _, c := range meshApps(in) {
			sc := c.Container.SecurityContext
			if sc != nil && sc.Privileged != nil && *sc.Privileged {
				out = append(out, containerViolation(c, "securityContext.privileged", fmt.Sprintf(
					"container %q is privileged, so it controls the pod's network and the proxy", c.Container.Name)))
			}
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				out = append(out, containerViolation(c, "securityContext.allowPrivilegeEscalation", fmt.Sprintf(
					"container %q may escalate its privileges after admission", c.Container.Name)))
			}
		}
		return out
	},
}
