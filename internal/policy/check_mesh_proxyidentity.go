package policy

import "fmt"

// mesh.proxyIdentity: no application container in a meshed pod can act as the proxy.
//
// The capture rules exempt the proxy's UID and GID from redirection, so a process with either
// bypasses the mesh. Restricted, for every container of a meshed pod: the effective
// runAsUser (container, else pod) must be set — an image's default user could be the proxy's —
// and must not be ProxyUID; the effective runAsGroup must not be ProxyGID; the pod's fsGroup
// and supplementalGroups must not hold ProxyGID (every container gets those groups).
var checkMeshProxyIdentity = &Check{
	ID:          "mesh.proxyIdentity",
	Title:       "Meshed apps cannot run as the proxy",
	Severity:    SeverityCritical,
	Remediation: fmt.Sprintf("Set runAsUser (and runAsGroup) to anything but %d, and keep %d out of fsGroup and supplementalGroups.", ProxyUID, ProxyGID),
	DefaultOn:   true,
	Eval: func(in *Input) []Violation {
		apps := meshApps(in)
		if apps == nil {
			return nil
		}
		var out []Violation
		psc := in.Template.Spec.SecurityContext
		if psc != nil && psc.FSGroup != nil && *psc.FSGroup == ProxyGID {
			out = append(out, Violation{Path: in.Template.Path + ".securityContext.fsGroup",
				Message: fmt.Sprintf("fsGroup %d is the proxy's group: every container would get it", ProxyGID)})
		}
		if psc != nil {
			for _, g := range psc.SupplementalGroups {
				if g == ProxyGID {
					out = append(out, Violation{Path: in.Template.Path + ".securityContext.supplementalGroups",
						Message: fmt.Sprintf("supplementalGroups hold %d, the proxy's group", ProxyGID)})
				}
			}
		}
		for _, c := range apps {
			var uid, gid *int64
			if psc != nil {
				uid, gid = psc.RunAsUser, psc.RunAsGroup
			}
			if sc := c.Container.SecurityContext; sc != nil {
				if sc.RunAsUser != nil {
					uid = sc.RunAsUser
				}
				if sc.RunAsGroup != nil {
					gid = sc.RunAsGroup
				}
			}
			name := c.Container.Name
			switch {
			case uid == nil:
				out = append(out, containerViolation(c, "securityContext.runAsUser", fmt.Sprintf(
					"container %q sets no runAsUser, so its image decides and it could run as the proxy (%d)", name, ProxyUID)))
			case *uid == ProxyUID:
				out = append(out, containerViolation(c, "securityContext.runAsUser", fmt.Sprintf(
					"container %q runs as UID %d, the proxy's, which the capture rules exempt", name, ProxyUID)))
			}
			if gid != nil && *gid == ProxyGID {
				out = append(out, containerViolation(c, "securityContext.runAsGroup", fmt.Sprintf(
					"container %q runs as GID %d, the proxy's, which the capture rules exempt", name, ProxyGID)))
			}
		}
		return out
	},
}
