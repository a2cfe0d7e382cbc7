package admission

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/workload"
)

// PullContext is what a registry lookup may authenticate with: the pod's namespace,
// ServiceAccount and image pull secrets, as the kubelet would use them.
type PullContext struct {
	Namespace      string
	ServiceAccount string
	PullSecrets    []string
}

// DigestResolver resolves an image reference to the digest it names now ("sha256:…").
type DigestResolver interface {
	ResolveDigest(ctx context.Context, ref imageref.Reference, pull PullContext) (string, error)
}

// PinDecider is the mutating webhook's image half: it rewrites every container image of a
// workload (all three lists) that names a tag to "repo:tag@sha256:…", the digest the tag names
// at admission, when a policy that applies asks for it (spec.images.pinDigests, on by default).
// A tag moved afterwards cannot change what runs (DESIGN invariant 3).
//
// It never refuses: an image it could not resolve stays as written, with a warning naming the
// registry and the image, and the validating webhook judges what it sees (image.digest refuses
// unpinned images where a policy requires digests; signature checks refuse what they could not
// verify, per spec.images.onRegistryError).
type PinDecider struct {
	Engines    EngineSource
	Namespaces NamespaceLabeler
	Resolver   DigestResolver
}

// Decide returns the patches that pin the object's images.
func (d *PinDecider) Decide(ctx context.Context, req *admissionv1.AdmissionRequest) (*Decision, error) {
	engine := d.Engines()
	if engine == nil {
		return nil, ErrNotReady
	}
	obj, err := workload.DecodeObject("admission", req.Object.Raw)
	if err != nil {
		return nil, fmt.Errorf("decoding %s %s/%s: %w", req.Kind.Kind, req.Namespace, req.Name, err)
	}
	if obj.Template == nil {
		return &Decision{Allowed: true}, nil
	}
	labels, err := d.Namespaces.NamespaceLabels(ctx, req.Namespace)
	if err != nil {
		return nil, fmt.Errorf("reading namespace %q: %w", req.Namespace, err)
	}
	if !engine.PinsDigests(obj, policy.Namespace{Name: req.Namespace, Labels: labels}) {
		return &Decision{Allowed: true}, nil
	}
	unchanged := oldImages(req)
	spec := obj.Template.Spec
	if obj.Namespace == "" {
		obj.Namespace = req.Namespace
	}
	pull := PullContextOf(obj)

	type pin struct {
		c      workload.ContainerRef
		ref    imageref.Reference
		digest string
		err    error
	}
	var todo []*pin
	for _, c := range workload.AllContainers(spec, obj.Template.Path) {
		ref, err := imageref.Parse(c.Container.Image)
		if err != nil || ref.Pinned() || unchanged[c.Path] == c.Container.Image {
			continue // image.registry reports what does not parse; UPDATE leaves running images be
		}
		todo = append(todo, &pin{c: c, ref: ref})
	}
	var wg sync.WaitGroup
	for _, p := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.digest, p.err = d.Resolver.ResolveDigest(ctx, p.ref, pull)
		}()
	}
	wg.Wait()

	dec := &Decision{Allowed: true}
	for _, p := range todo {
		if p.err != nil {
			dec.Warnings = append(dec.Warnings, fmt.Sprintf("%s: image %q was not pinned to a digest: %v", p.c.Path, p.c.Container.Image, p.err))
			continue
		}
		dec.Patches = append(dec.Patches, jsonpatch.NewOperation("replace", jsonPointer(p.c.Path)+"/image", pinnedImage(p.c.Container.Image, p.digest)))
	}
	return dec, nil
}

// pinnedImage keeps the reference as written, tag included for people, and adds the digest,
// which is what the runtime pulls.
func pinnedImage(image, digest string) string {
	return strings.TrimSpace(image) + "@" + digest
}

// oldImages maps container paths to their images in the old object of an UPDATE: an image an
// update does not change is left alone, so editing a running Pod or re-labelling a workload
// admitted before Outrider does not restart its containers.
func oldImages(req *admissionv1.AdmissionRequest) map[string]string {
	if req.Operation != admissionv1.Update || len(req.OldObject.Raw) == 0 {
		return nil
	}
	old, err := workload.DecodeObject("admission", req.OldObject.Raw)
	if err != nil || old.Template == nil {
		return nil
	}
	out := map[string]string{}
	for _, c := range workload.AllContainers(old.Template.Spec, old.Template.Path) {
		out[c.Path] = c.Container.Image
	}
	return out
}

// jsonPointer turns a field path like "spec.template.spec.containers[1]" into the JSON pointer
// "/spec/template/spec/containers/1". Field names here never contain "/" or "~".
func jsonPointer(fieldPath string) string {
	var b strings.Builder
	for _, part := range strings.Split(fieldPath, ".") {
		name, index, indexed := strings.Cut(part, "[")
		b.WriteString("/" + name)
		if indexed {
			if n, err := strconv.Atoi(strings.TrimSuffix(index, "]")); err == nil {
				b.WriteString("/" + strconv.Itoa(n))
			}
		}
	}
	return b.String()
}
