package admission

import (
	"context"
	"encoding/json"
	"fmt"

	jsonpatchapply "github.com/evanphx/json-patch"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/outrider-sec/outrider/internal/identity/provenance"
	"github.com/outrider-sec/outrider/internal/mesh/inject"
	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/workload"
)

// MutateDecider is the mutating webhook: it injects the mesh into meshed pods (Mesh) and pins
// image tags to digests (Resolver). It never refuses; the validating webhook judges the result.
type MutateDecider struct {
	Engines    EngineSource
	Namespaces NamespaceLabeler
	// Resolver resolves tags for pinning; nil pins nothing.
	Resolver DigestResolver
	// Mesh injects the sidecar; nil injects nothing.
	Mesh *inject.Config
	// Images gathers registry data for provenance; Provenance signs it. Either nil: meshed pods
	// get no provenance annotation, and their identities carry none.
	Images     ImageFacts
	Provenance ProvenanceSigner
}

// ProvenanceSigner signs the provenance annotation of a pod whose images are pinned.
type ProvenanceSigner interface {
	Sign(pod *corev1.Pod, authorities []string) (string, error)
}

// Decide returns the patches for the request's object.
func (d *MutateDecider) Decide(ctx context.Context, req *admissionv1.AdmissionRequest) (*Decision, error) {
	engine, obj, err := requestObject(d.Engines, req)
	if err != nil {
		return nil, err
	}
	if obj.Template == nil {
		return &Decision{Allowed: true}, nil
	}
	labels, err := d.Namespaces.NamespaceLabels(ctx, req.Namespace)
	if err != nil {
		return nil, fmt.Errorf("reading namespace %q: %w", req.Namespace, err)
	}
	ns := policy.Namespace{Name: req.Namespace, Labels: labels}

	doc := req.Object.Raw
	dec := &Decision{Allowed: true}
	injectedPod := false
	if d.injects(req, obj, labels) {
		injectedPod = true
		injected, err := d.inject(doc, obj)
		if err != nil {
			return nil, fmt.Errorf("injecting the mesh into pod %s/%s: %w", req.Namespace, req.Name, err)
		}
		if injected != nil {
			doc = injected
			if obj, err = workload.DecodeObject("admission", doc); err != nil {
				return nil, fmt.Errorf("decoding the injected pod %s/%s: %w", req.Namespace, req.Name, err)
			}
			if obj.Namespace == "" {
				obj.Namespace = req.Namespace
			}
		}
	}
	ops, warnings := d.pinImages(ctx, req, engine, obj, ns)
	dec.Warnings = warnings
	if len(ops) > 0 {
		raw, err := json.Marshal(ops)
		if err != nil {
			return nil, err
		}
		patch, err := jsonpatchapply.DecodePatch(raw)
		if err != nil {
			return nil, err
		}
		if doc, err = patch.Apply(doc); err != nil {
			return nil, fmt.Errorf("pinning the images of %s %s/%s: %w", req.Kind.Kind, req.Namespace, req.Name, err)
		}
	}
	if injectedPod {
		if doc, err = d.signProvenance(ctx, req, engine, ns, doc); err != nil {
			return nil, err
		}
	}
	if len(doc) != len(req.Object.Raw) || string(doc) != string(req.Object.Raw) {
		if dec.Patches, err = jsonpatch.CreatePatch(req.Object.Raw, doc); err != nil {
			return nil, fmt.Errorf("patching %s %s/%s: %w", req.Kind.Kind, req.Namespace, req.Name, err)
		}
	}
	return dec, nil
}

// injects says whether the request creates a pod the mesh takes: a Pod (not its
// subresources), created, in a namespace labelled security.outrider.dev/mesh=enabled (or, in
// one labelled =optional, annotated so), and not opted out. Who may opt out is the validating
// webhook's question (OptOutGuard): by the time a pod reaches here, its opt-out was allowed.
func (d *MutateDecider) injects(req *admissionv1.AdmissionRequest, obj *workload.Object, nsLabels map[string]string) bool {
	if d.Mesh == nil || req.Kind.Kind != "Pod" || req.Kind.Group != "" || req.SubResource != "" || req.Operation != admissionv1.Create {
		return false
	}
	var annotations map[string]string
	if obj.Template.Meta != nil {
		annotations = obj.Template.Meta.Annotations
	}
	return inject.Wanted(annotations, nsLabels)
}

// inject returns the pod document with the mesh added, nil when it already has it.
func (d *MutateDecider) inject(doc []byte, obj *workload.Object) ([]byte, error) {
	spec, changed := d.Mesh.Inject(obj.Template.Spec)
	if !changed {
		return nil, nil
	}
	var pod map[string]any
	if err := json.Unmarshal(doc, &pod); err != nil {
		return nil, err
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	var specMap map[string]any
	if err := json.Unmarshal(specJSON, &specMap); err != nil {
		return nil, err
	}
	pod["spec"] = specMap
	meta, _ := pod["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		pod["metadata"] = meta
	}
	ann, _ := meta["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		meta["annotations"] = ann
	}
	ann[inject.StatusAnnotation] = inject.Version
	return json.Marshal(pod)
}

// signProvenance annotates a meshed pod, once its images are pinned, with the signing
// authorities that verified all of them (policy.Engine.VerifiedAuthorities), signed by the
// controller's key; the identity service puts them into the pod's certificate. Any annotation
// the pod came with is removed first: provenance is the controller's claim, never the author's.
// When nothing vouches for every image, the pod gets none (never a refusal: the validating
// webhook decides admission).
func (d *MutateDecider) signProvenance(ctx context.Context, req *admissionv1.AdmissionRequest, engine *policy.Engine, ns policy.Namespace, doc []byte) ([]byte, error) {
	var pod corev1.Pod
	if err := json.Unmarshal(doc, &pod); err != nil {
		return nil, err
	}
	_, had := pod.Annotations[provenance.Annotation]
	delete(pod.Annotations, provenance.Annotation)
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	var value string
	if d.Images != nil && d.Provenance != nil {
		obj, err := workload.DecodeObject("admission", doc)
		if err != nil {
			return nil, err
		}
		obj.Namespace = pod.Namespace
		if refs := engine.TrustNeeds(obj, ns); len(refs) > 0 {
			authorities := engine.WithInjector(d.Mesh).WithImageData(d.Images.ImageData(ctx, refs, PullContextOf(obj))).VerifiedAuthorities(obj, ns)
			if len(authorities) > 0 {
				if value, err = d.Provenance.Sign(&pod, authorities); err != nil {
					value = "" // an image left unpinned: no claim
				}
			}
		}
	}
	if value == "" && !had {
		return doc, nil
	}
	if value != "" {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[provenance.Annotation] = value
	}
	return patchMetadataAnnotations(doc, pod.Annotations)
}

// patchMetadataAnnotations replaces metadata.annotations of the JSON object doc, leaving the
// rest of the document as it is.
func patchMetadataAnnotations(doc []byte, annotations map[string]string) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	meta, _ := m["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		m["metadata"] = meta
	}
	if len(annotations) == 0 {
		delete(meta, "annotations")
	} else {
		meta["annotations"] = annotations
	}
	return json.Marshal(m)
}
