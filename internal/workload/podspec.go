package workload

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"
)

// templateDecoder decodes the JSON of one workload kind and returns its pod template.
type templateDecoder func(data []byte) (*PodTemplate, error)

// templateKinds lists every kind that carries a pod spec, by API group and kind. Older API
// versions of the same group (extensions/v1beta1, apps/v1beta2, batch/v1beta1) share the
// pod spec's shape, so the group and kind decide.
var templateKinds = map[string]templateDecoder{
	"/Pod": func(data []byte) (*PodTemplate, error) {
		var o corev1.Pod
		return template(data, &o, func() *PodTemplate { return &PodTemplate{&o.ObjectMeta, &o.Spec, "spec"} })
	},
	"/PodTemplate": func(data []byte) (*PodTemplate, error) {
		var o corev1.PodTemplate
		return template(data, &o, func() *PodTemplate { return &PodTemplate{&o.Template.ObjectMeta, &o.Template.Spec, "template.spec"} })
	},
	"/ReplicationController": func(data []byte) (*PodTemplate, error) {
		var o corev1.ReplicationController
		return template(data, &o, func() *PodTemplate {
			if o.Spec.Template == nil {
				o.Spec.Template = &corev1.PodTemplateSpec{}
			}
			return &PodTemplate{&o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, "spec.template.spec"}
		})
	},
	"apps/Deployment":       appsTemplate[appsv1.Deployment](func(o *appsv1.Deployment) *corev1.PodTemplateSpec { return &o.Spec.Template }),
	"apps/ReplicaSet":       appsTemplate[appsv1.ReplicaSet](func(o *appsv1.ReplicaSet) *corev1.PodTemplateSpec { return &o.Spec.Template }),
	"apps/StatefulSet":      appsTemplate[appsv1.StatefulSet](func(o *appsv1.StatefulSet) *corev1.PodTemplateSpec { return &o.Spec.Template }),
	"apps/DaemonSet":        appsTemplate[appsv1.DaemonSet](func(o *appsv1.DaemonSet) *corev1.PodTemplateSpec { return &o.Spec.Template }),
	"extensions/Deployment": appsTemplate[appsv1.Deployment](func(o *appsv1.Deployment) *corev1.PodTemplateSpec { return &o.Spec.Template }),
	"extensions/ReplicaSet": appsTemplate[appsv1.ReplicaSet](func(o *appsv1.ReplicaSet) *corev1.PodTemplateSpec { return &o.Spec.Template }),
	"extensions/DaemonSet":  appsTemplate[appsv1.DaemonSet](func(o *appsv1.DaemonSet) *corev1.PodTemplateSpec { return &o.Spec.Template }),
	"batch/Job":             appsTemplate[batchv1.Job](func(o *batchv1.Job) *corev1.PodTemplateSpec { return &o.Spec.Template }),
	"batch/CronJob": func(data []byte) (*PodTemplate, error) {
		var o batchv1.CronJob
		return template(data, &o, func() *PodTemplate {
			t := &o.Spec.JobTemplate.Spec.Template
			return &PodTemplate{&t.ObjectMeta, &t.Spec, "spec.jobTemplate.spec.template.spec"}
		})
	},
}

// appsTemplate builds the decoder of a kind whose pod template sits at spec.template.
func appsTemplate[T any](get func(*T) *corev1.PodTemplateSpec) templateDecoder {
	return func(data []byte) (*PodTemplate, error) {
		var o T
		return template(data, &o, func() *PodTemplate {
			t := get(&o)
			return &PodTemplate{&t.ObjectMeta, &t.Spec, "spec.template.spec"}
		})
	}
}

// template decodes data strictly into obj, the way the API server's strict field validation
// does: an unknown or duplicated field is an error, because a misspelt securityContext would
// otherwise be dropped silently and the workload judged without it.
func template(data []byte, obj any, get func() *PodTemplate) (*PodTemplate, error) {
	if err := UnmarshalStrict(data, obj); err != nil {
		return nil, err
	}
	return get(), nil
}

// UnmarshalStrict decodes JSON into obj case-sensitively, failing on unknown or duplicated
// fields, as the API server's strict field validation does.
func UnmarshalStrict(data []byte, obj any) error {
	strictErrs, err := kjson.UnmarshalStrict(data, obj, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	if len(strictErrs) > 0 {
		return strictErrs[0]
	}
	return nil
}

// decodeTemplate returns the pod template of a workload kind, nil for other kinds.
func decodeTemplate(group, kind string, data []byte) (*PodTemplate, error) {
	dec, ok := templateKinds[group+"/"+kind]
	if !ok {
		return nil, nil
	}
	return dec(data)
}
