package policy

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// mesh.netCapabilities: no container in a meshed pod can rewrite or go around the capture rules.
//
// NET_ADMIN changes the pod's iptables rules; NET_RAW opens raw sockets that bypass them and
// (Linux 5.17+) sets the socket mark the capture rules exempt; SETUID and SETGID switch to the
// proxy's UID and GID, which the capture rules also exempt. Container runtimes grant NET_RAW,
// SETUID and SETGID by default, so not adding them is not enough: they must be dropped.
// Restricted: securityContext.capabilities of every app container of a meshed pod (the
// injector's own containers are exempt). Violations: NET_ADMIN, NET_RAW or ALL in add (with or
// without the CAP_ prefix, any case); and a drop list that leaves out any of NET_RAW, SETUID
// and SETGID (drop ALL covers them), whatever the Pod Security level.
var checkMeshNetCapabilities = &Check{
	ID:          "mesh.netCapabilities",
	Title:       "Meshed apps cannot change the network",
	Severity:    SeverityCritical,
	Remediation: "Remove NET_ADMIN, NET_RAW and ALL from securityContext.capabilities.add, and drop ALL (or at least NET_RAW, SETUID and SETGID).",
	DefaultOn:   true,
	Eval: func(in *Input) []Violation {
		var out []Violation
		for _, c := range meshApps(in) {
			var add, drop []corev1.Capability
			if sc := c.Container.SecurityContext; sc != nil && sc.Capabilities != nil {
				add, drop = sc.Capabilities.Add, sc.Capabilities.Drop
			}
			for _, capability := range add {
				if netCapability(capability) {
					out = append(out, containerViolation(c, "securityContext.capabilities.add", fmt.Sprintf(
						"container %q adds %s, which lets it rewrite or bypass the mesh's capture rules", c.Container.Name, capability)))
				}
			}
			if kept := keptDefaults(drop); len(kept) > 0 {
				out = append(out, containerViolation(c, "securityContext.capabilities.drop", fmt.Sprintf(
					"container %q keeps the runtime's default %s, with which it could pass as the proxy or send around the capture rules; drop ALL",
					c.Container.Name, strings.Join(kept, ", "))))
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

// mustDrop are the runtime's default capabilities that reach around the capture rules.
var mustDrop = []string{"NET_RAW", "SETUID", "SETGID"}

// keptDefaults returns the capabilities of mustDrop that drop leaves in place.
func keptDefaults(drop []corev1.Capability) []string {
	dropped := map[string]bool{}
	for _, c := range drop {
		dropped[normalizeCapability(string(c))] = true
	}
	if dropped["ALL"] {
		return nil
	}
	var kept []string
	for _, c := range mustDrop {
		if !dropped[c] {
			kept = append(kept, c)
		}
	}
	return kept
}
