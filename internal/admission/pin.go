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

// pinImages returns the patches that pin obj's images: every container image (all three
// lists) that names a tag becomes "repo:tag@sha256:…", the digest the tag names now, when a
// policy that applies asks for it (spec.images.pinDigests, on by default). A tag moved
// afterwards cannot change what runs (DESIGN invariant 3). The injector's own containers are
// left as configured.
//
// It never refuses: an image it could not resolve stays as written, with a warning naming the
// registry and the image, and the validating webhook judges what it sees (image.digest refuses
// unpinned images where a policy requires digests; signature checks refuse what they could not
// verify, per spec.images.onRegistryError).
func (d *MutateDecider) pinImages(ctx context.Context, req *admissionv1.AdmissionRequest, engine *policy.Engine, obj *workload.Object, ns policy.Namespace) ([]jsonpatch.Operation, []string) {
	if d.Resolver == nil || !engine.PinsDigests(obj, ns) {
		return nil, nil
	}
	unchanged := oldImages(req)
	spec := obj.Template.Spec
	pull := PullContextOf(obj)

	type pin struct {
		c      workload.ContainerRef
		ref    imageref.Reference
		digest string
		err    error
	}
	var todo []*pin
	for _, c := range workload.AllContainers(spec, obj.Template.Path) {
		if d.Mesh != nil && c.List == workload.InitContainers && d.Mesh.InjectedContainer(spec, c.Container) {
			continue
		}
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

	var ops []jsonpatch.Operation
	var warnings []string
	for _, p := range todo {
		if p.err != nil {
			warnings = append(warnings, fmt.Sprintf("%s: image %q was not pinned to a digest: %v", p.c.Path, p.c.Container.Image, p.err))
			continue
		}
		ops = append(ops, jsonpatch.NewOperation("replace", jsonPointer(p.c.Path)+"/image", pinnedImage(p.c.Container.Image, p.digest)))
	}
	return ops, warnings
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
