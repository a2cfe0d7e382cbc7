package policy

// container.readOnlyRootFilesystem: containers cannot write their root filesystem.
//
// Restricted: securityContext.readOnlyRootFilesystem of every container. Allowed: true.
// A writable root filesystem lets an intruder drop tools and persist changes in the container.
var checkReadOnlyRootFS = &Check{
	ID:          "container.readOnlyRootFilesystem",
	Title:       "Read-only root filesystem",
	Severity:    SeverityMedium,
	Remediation: "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the app writes.",
	DefaultOn:   true,
	Eval: func(in *Input) []Violation {
		var out []Violation
		for _, c := range in.Containers {
			sc := c.Container.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				out = append(out, containerViolation(c, "securityContext.readOnlyRootFilesystem",
					"container \""+c.Container.Name+"\" can write its root filesystem"))
			}
		}
		return out
	},
}
