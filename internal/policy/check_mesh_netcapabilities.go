package policy

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// mesh.netCapabilities: no container in a meshed pod can rewrite or go around the capture rules.
//
// NET_ADMIN changes the pod's iptables rules; NET_RAW opens raw sockets that bypass them.
// Restricted: securityContext.capabilities.add of every container of a meshed pod. Violations:
// NET_ADMIN, NET_RAW or ALL (with or without the CAP_ prefix, any case).
var checkMeshNetCapabilities = &Check{
	ID:          "mesh.netCapabilities",
	Title:       "Meshed apps cannot change the network",
	Severity:    SeverityCritical,
	Remediation: "Remove NET_ADMIN, NET_RAW and ALL from securityContext.capabilities.add.",
	DefaultOn:   true,
	Eval: func(in *Input) []Violation {
		var out []Violation
		for _, c := range meshApps(in) {
			sc := c.Container.SecurityContext
			if sc == nil || sc.Capabilities == nil {
				continue
			}
			for _, capability := range sc.Capabilities.Add {
				if netCapability(capability) {
					out = append(out, containerViolation(c, "securityContext.capabilities.add", fmt.Sprintf(
						"container %q adds %s, which lets it rewrite or bypass the mesh's capture rules", c.Container.Name, capability)))
				}
			}
		}
		return out
	},
}

func netCapability(c corev1.Capability) bool {
	switch normalizeCapability(string(c)) {
	case "NET_ADMIN", "NET_RAW", "ALL":
		return true
	}
	return false
}
