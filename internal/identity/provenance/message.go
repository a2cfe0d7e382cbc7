package provenance

import (
	"cmp"
	"encoding/binary"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Container lists, as they are named in a PodSpec. Entries of the signed message carry the
// list, so moving an image from one list to another changes the message.
const (
	ListContainers          = "containers"
	ListInitContainers      = "initContainers"
	ListEphemeralContainers = "ephemeralContainers"
)

// messageDomain opens every signed message, so that a signature made with the provenance key
// can never be taken for a signature over anything else, and v1 can be told from a later form.
const messageDomain = "outrider.dev/provenance/v1\n"

// ContainerImage is one container of a pod: its list, its name and its image as the spec
// names it ("registry/repo:tag@sha256:…" once admission pinned it).
type ContainerImage struct {
	List  string
	Name  string
	Image string
}

// PodImages returns every container of spec, from all three lists, in spec order.
func PodImages(spec *corev1.PodSpec) []ContainerImage {
	var out []ContainerImage
	for _, c := range spec.InitContainers {
		out = append(out, ContainerImage{ListInitContainers, c.Name, c.Image})
	}
	for _, c := range spec.Containers {
		out = append(out, ContainerImage{ListContainers, c.Name, c.Image})
	}
	for _, c := range spec.EphemeralContainers {
		out = append(out, ContainerImage{ListEphemeralContainers, c.Name, c.Image})
	}
	return out
}

// Message returns the bytes that are signed:
//
//	"outrider.dev/provenance/v1\n"
//	field(namespace) field(serviceAccount)
//	u32(#containers) { field(list) field(name) field(image) }  sorted by list, name, image
//	u32(#authorities) { field(authority) }                     sorted, without duplicates
//
// where field(s) is u32(len(s)) followed by the bytes of s, and u32 is 4 bytes big-endian.
// The length prefixes make the encoding injective: no two different inputs give the same
// bytes, whatever the strings hold. The list is one of ListContainers, ListInitContainers and
// ListEphemeralContainers.
//
// The controller's signer and the identity service's verifier both call this function, so
// they cannot disagree on the bytes. Message sorts copies; it does not modify its arguments.
func Message(namespace, serviceAccount string, images []ContainerImage, authorities []string) []byte {
	entries := slices.Clone(images)
	slices.SortFunc(entries, func(a, b ContainerImage) int {
		return cmp.Or(cmp.Compare(a.List, b.List), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Image, b.Image))
	})
	auth := slices.Clone(authorities)
	slices.Sort(auth)
	auth = slices.Compact(auth)

	b := []byte(messageDomain)
	b = appendField(b, namespace)
	b = appendField(b, serviceAccount)
	b = binary.BigEndian.AppendUint32(b, uint32(len(entries)))
	for _, e := range entries {
		b = appendField(b, e.List)
		b = appendField(b, e.Name)
		b = appendField(b, e.Image)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(auth)))
	for _, a := range auth {
		b = appendField(b, a)
	}
	return b
}

// PodMessage is Message for a pod's own namespace, ServiceAccount and containers.
func PodMessage(pod *corev1.Pod, authorities []string) []byte {
	return Message(pod.Namespace, serviceAccountOf(pod), PodImages(&pod.Spec), authorities)
}

func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// serviceAccountOf is the pod's ServiceAccount as the API server defaults it.
func serviceAccountOf(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	return "default"
}
