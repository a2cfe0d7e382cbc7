package policy

import (
	"strings"

	"github.com/outrider-sec/outrider/internal/workload"
)

// The mesh's names and identities. The sidecar proxy (issue "workload identity and the security
// sidecar proxy") runs as ProxyUID/ProxyGID, and its capture rules exempt that identity; so in a
// meshed pod no application container may run as it, or it would skip the capture rules.
const (
	// MeshLabel on a namespace, or MeshAnnotation on a pod template, with the value
	// MeshEnabled, meshes the pod.
	MeshLabel      = "security.outrider.dev/mesh"
	MeshAnnotation = "security.outrider.dev/mesh"
	MeshEnabled    = "enabled"

	// ProxyUID and ProxyGID are the sidecar proxy's user and group.
	ProxyUID int64 = 1337
	ProxyGID int64 = 1337

	// ProxyContainer and CaptureContainer are the names the injector gives its containers, and
	// ProxyVolumePrefix starts the name of every volume it adds. They are reserved: a workload
	// that uses them itself is refused (mesh.reservedNames), so none can pass for the proxy.
	ProxyContainer    = "outrider-proxy"
	CaptureContainer  = "outrider-capture"
	ProxyVolumePrefix = "outrider-proxy"

	// InjectAnnotation "false" (InjectDisabled) on a pod template takes it out of the mesh; the
	// admission controller lets only the users its configuration names write it.
	InjectAnnotation = "security.outrider.dev/inject"
	InjectDisabled   = "false"
)

// meshed reports whether the pod is in the mesh: its namespace is labelled, or its template is
// annotated, security.outrider.dev/mesh=enabled, and it does not opt out (InjectAnnotation).
func meshed(in *Input) bool {
	if in.Template == nil {
		return false
	}
	if in.Template.Meta != nil && in.Template.Meta.Annotations[InjectAnnotation] == InjectDisabled {
		return false
	}
	if in.Namespace.Labels[MeshLabel] == MeshEnabled {
		return true
	}
	return in.Template.Meta != nil && in.Template.Meta.Annotations[MeshAnnotation] == MeshEnabled
}

// reservedContainer reports whether a container uses a name the injector reserves.
func reservedContainer(name string) bool {
	return name == ProxyContainer || name == CaptureContainer
}

// reservedVolume reports whether a volume name is reserved for the proxy.
func reservedVolume(name string) bool { return strings.HasPrefix(name, ProxyVolumePrefix) }

// meshApps returns the containers of a meshed pod, or nil for a pod outside the mesh. Until
// the injector lands every container is an application container: one that calls itself the
// proxy is refused by mesh.reservedNames, and is judged here like any other.
func meshApps(in *Input) []workload.ContainerRef {
	if !meshed(in) {
		return nil
	}
	return in.Containers
}

// normalizeCapability spells a capability the way the runtime reads it: upper case, no CAP_.
func normalizeCapability(c string) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(c)), "CAP_")
}
