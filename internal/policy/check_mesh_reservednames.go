package policy

import "fmt"

// mesh.reservedNames: a workload cannot pass one of its containers or volumes off as the mesh's.
//
// The injector names its containers ProxyContainer and CaptureContainer and its volumes with
// ProxyVolumePrefix; other checks and the node agent trust those names. Restricted, in every
// pod (meshed or not, so a pod cannot be prepared before its namespace joins the mesh): the
// names of containers in all three lists and of volumes. Until the injector exists, any use is
// a forgery; the injector will admit exactly its own templates.
var checkMeshReservedNames = &Check{
	ID:          "mesh.reservedNames",
	Title:       "Names reserved for the mesh",
	Severity:    SeverityHigh,
	Remediation: fmt.Sprintf("Rename containers called %s or %s and volumes starting with %s.", ProxyContainer, CaptureContainer, ProxyVolumePrefix),
	DefaultOn:   true,
	Eval: func(in *Input) []Violation {
		var out []Violation
		for _, c := range in.Containers {
			if reservedContainer(c.Container.Name) {
				out = append(out, containerViolation(c, "name", fmt.Sprintf("container name %q is reserved for Outrider's mesh", c.Container.Name)))
			}
		}
		if in.Template == nil {
			return out
		}
		for i, v := range in.Template.Spec.Volumes {
			if reservedVolume(v.Name) {
				out = append(out, Violation{Path: fmt.Sprintf("%s.volumes[%d]", in.Template.Path, i),
					Message: fmt.Sprintf("volume name %q is reserved for Outrider's mesh", v.Name)})
			}
		}
		return out
	},
}
