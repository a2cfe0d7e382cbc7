package admission

import (
	"fmt"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/outrider-sec/outrider/internal/mesh/inject"
	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/workload"
)

// OptOut says who may take a pod out of the mesh of a meshed namespace with the annotation
// security.outrider.dev/inject: "false". Nobody may by default: in a meshed namespace the
// sidecar is what holds AccessPolicy, so leaving it is a privilege.
type OptOut struct {
	Users  []string
	Groups []string
}

// workloadControllers create pods from templates the workloads webhook already judged, with
// the author's opt-out checked there; the pods they create carry it unchanged.
const workloadControllers = "system:serviceaccount:kube-system:"

// refusal is the message refusing req, or "" when it may go on: a workload (any kind with a
// pod template) that opts out of the mesh of a meshed namespace, written by someone who may not.
func (o OptOut) refusal(req *admissionv1.AdmissionRequest, obj *workload.Object, nsLabels map[string]string) string {
	if obj.Template == nil || obj.Template.Meta == nil || obj.Template.Meta.Annotations[inject.InjectAnnotation] != inject.InjectDisabled {
		return ""
	}
	switch nsLabels[policy.MeshLabel] {
	case policy.MeshEnabled, inject.MeshOptional:
	default:
		return "" // nothing to opt out of
	}
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		if prev, err := workload.DecodeObject("admission", req.OldObject.Raw); err == nil && prev.Template != nil &&
			prev.Template.Meta != nil && prev.Template.Meta.Annotations[inject.InjectAnnotation] == inject.InjectDisabled {
			return "" // the opt-out was allowed when it was written; scaling must keep working
		}
	}
	u := req.UserInfo
	if strings.HasPrefix(u.Username, workloadControllers) || slices.Contains(o.Users, u.Username) {
		return ""
	}
	for _, g := range u.Groups {
		if slices.Contains(o.Groups, g) {
			return ""
		}
	}
	return fmt.Sprintf("outrider refused %s: the annotation %s: %q takes it out of the mesh of namespace %q, and %q may not do that "+
		"(allowed: users %s; groups %s, in the controller's mesh.optOut settings). Remove the annotation.",
		obj.Ref(), inject.InjectAnnotation, inject.InjectDisabled, req.Namespace, u.Username, listOrNone(o.Users), listOrNone(o.Groups))
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
