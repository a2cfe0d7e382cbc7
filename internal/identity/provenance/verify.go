package provenance

import (
	"crypto/ed25519"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Keys are the provenance public keys the identity service trusts, by key ID.
type Keys map[string]ed25519.PublicKey

// Verify returns the signing authorities that pod's annotation proves, or an error saying why
// it proves nothing. pod must be the live pod, read from the API server after the token was
// bound to it. The checks, all of which must pass:
//
//   - the annotation parses (Parse) and names a key in keys;
//   - every container of every list names its image by digest;
//   - every container that has started runs that digest (status imageID);
//   - the signature verifies over PodMessage(pod, authorities), which covers the namespace, the
//     ServiceAccount and every container's image.
//
// So a copied annotation proves nothing on a pod with other images, namespace or
// ServiceAccount; an image edited after admission, or an ephemeral container added, breaks it.
func Verify(pod *corev1.Pod, keys Keys) ([]string, error) {
	value, ok := pod.Annotations[Annotation]
	if !ok {
		return nil, ErrNoAnnotation
	}
	s, err := Parse(value)
	if err != nil {
		return nil, err
	}
	key, ok := keys[s.KeyID]
	if !ok || len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, s.KeyID)
	}
	if err := checkImages(pod); err != nil {
		return nil, err
	}
	if !ed25519.Verify(key, PodMessage(pod, s.Authorities), s.Signature) {
		return nil, fmt.Errorf("%w (key %q)", ErrSignature, s.KeyID)
	}
	return s.Authorities, nil
}

// checkImages requires a digest on every image and, for containers that have started, the same
// digest in the image ID the runtime reports. A runtime that reports only a local image ID
// ("sha256:…" without a repository) cannot confirm the digest, so that fails too.
func checkImages(pod *corev1.Pod) error {
	want := map[string]string{} // list/name → digest
	for _, c := range PodImages(&pod.Spec) {
		d, ok := digestOf(c.Image)
		if !ok {
			return fmt.Errorf("%w: %s %s image %.200q", ErrUnpinned, c.List, c.Name, c.Image)
		}
		want[c.List+"/"+c.Name] = d
	}
	lists := []struct {
		name     string
		statuses []corev1.ContainerStatus
	}{
		{ListInitContainers, pod.Status.InitContainerStatuses},
		{ListContainers, pod.Status.ContainerStatuses},
		{ListEphemeralContainers, pod.Status.EphemeralContainerStatuses},
	}
	for _, l := range lists {
		for _, st := range l.statuses {
			if st.ImageID == "" {
				continue // not started yet: the kubelet will pull the pinned digest
			}
			d, ok := want[l.name+"/"+st.Name]
			if !ok {
				return fmt.Errorf("%w: status for %s %s, which the spec does not have", ErrNotRunning, l.name, st.Name)
			}
			if got, ok := digestOf(st.ImageID); !ok || got != d {
				return fmt.Errorf("%w: %s %s runs %.200q, signed %s", ErrNotRunning, l.name, st.Name, st.ImageID, d)
			}
		}
	}
	return nil
}

// digestOf returns the "sha256:<64 hex>" after the last '@' of an image reference or image ID
// ("repo@sha256:…", "repo:tag@sha256:…", "docker-pullable://repo@sha256:…").
func digestOf(ref string) (string, bool) {
	i := strings.LastIndexByte(ref, '@')
	if i <= 0 {
		return "", false
	}
	d := ref[i+1:]
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return "", false
	}
	for j := 0; j < len(hex); j++ {
		c := hex[j]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	return d, true
}
