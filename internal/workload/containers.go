package workload

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// ContainerList names one of the three container lists of a pod spec.
type ContainerList string

// The container lists of a pod spec, all of which run code and all of which are checked.
const (
	Containers          ContainerList = "containers"
	InitContainers      ContainerList = "initContainers"
	EphemeralContainers ContainerList = "ephemeralContainers"
)

// ContainerRef is one container of a pod spec with its place in the object.
type ContainerRef struct {
	// Container holds the container's fields; for an ephemeral container, a copy of its
	// common fields.
	Container *corev1.Container
	List      ContainerList
	Index     int
	// Path is the container's field path in the object, like "spec.template.spec.containers[1]".
	Path string
}

// AllContainers returns every container of the pod spec at specPath: containers, then
// initContainers, then ephemeralContainers.
func AllContainers(spec *corev1.PodSpec, specPath string) []ContainerRef {
	refs := make([]ContainerRef, 0, len(spec.Containers)+len(spec.InitContainers)+len(spec.EphemeralContainers))
	for i := range spec.Containers {
		refs = append(refs, ContainerRef{&spec.Containers[i], Containers, i, containerPath(specPath, Containers, i)})
	}
	for i := range spec.InitContainers {
		refs = append(refs, ContainerRef{&spec.InitContainers[i], InitContainers, i, containerPath(specPath, InitContainers, i)})
	}
	for i := range spec.EphemeralContainers {
		c := corev1.Container(spec.EphemeralContainers[i].EphemeralContainerCommon)
		refs = append(refs, ContainerRef{&c, EphemeralContainers, i, containerPath(specPath, EphemeralContainers, i)})
	}
	return refs
}

func containerPath(specPath string, list ContainerList, i int) string {
	return specPath + "." + string(list) + "[" + strconv.Itoa(i) + "]"
}
