package policy

import "fmt"

// mesh.proxyVolumes: no application container mounts the proxy's volumes.
//
// The proxy's admin socket, identity token and keys live in volumes whose names start with
// ProxyVolumePrefix. Restricted: volumeMounts of every container of a meshed pod. Violations:
// a mount of a reserved volume.
var checkMeshProxyVolumes = &Check{
	ID:          "mesh.proxyVolumes",
	Title:       "Meshed apps cannot mount the proxy's volumes",
	Severity:    SeverityCritical,
	Remediation: "Remove the volumeMounts of the proxy's volumes (outrider-proxy*) from application containers.",
	DefaultOn:   true,
	Eval: func(in *Input) []Violation {
		var out []Violation
		for _, c := range meshApps(in) {
			for i, m := range c.Container.VolumeMounts {
				if reservedVolume(m.Name) {
					out = append(out, containerViolation(c, fmt.Sprintf("volumeMounts[%d]", i), fmt.Sprintf(
						"container %q mounts %q, a volume of the proxy's", c.Container.Name, m.Name)))
				}
			}
		}
		return out
	},
}
