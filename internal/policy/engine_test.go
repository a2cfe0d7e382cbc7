package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestCompliantPodHasNoFindings(t *testing.T) {
	p, err := DefaultPolicy()
	if err != nil {
		t.Fatalf("default policy: %v", err)
	}
	if fs := evaluate(podWith(t, nil), p); len(fs) != 0 {
		t.Fatalf("compliant pod has findings: %+v", fs)
	}
}

// Invariant 1: every container list counts, and a pod-template workload is judged at the
// workload. An attacker hides a privileged container where a careless check would not look.
func TestPrivilegedContainerHiddenInEveryList(t *testing.T) {
	p, _ := DefaultPolicy()
	priv := &corev1.SecurityContext{Privileged: ptr(true), AllowPrivilegeEscalation: ptr(true), ReadOnlyRootFilesystem: ptr(true)}
	hidden := corev1.Container{Name: "hidden", Image: "registry.example.com/x:1", SecurityContext: priv}
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   string
	}{
		{"initContainers", func(p *corev1.Pod) { p.Spec.InitContainers = []corev1.Container{hidden} }, "spec.initContainers[0].securityContext.privileged"},
		{"ephemeralContainers", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon(hidden)}}
		}, "spec.ephemeralContainers[0].securityContext.privileged"},
		{"second container", func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, hidden) }, "spec.containers[1].securityContext.privileged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checksOf(evaluate(podWith(t, tt.mutate), p), "pss.privileged")
			if diff := cmp.Diff([]string{"pss.privileged@" + tt.want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEveryWorkloadKindIsJudgedAtTheWorkload(t *testing.T) {
	p, _ := DefaultPolicy()
	spec := `{containers: [{name: c, image: "registry.example.com/a:1", securityContext: {privileged: true}}]}`
	kinds := map[string]string{
		"apps/v1 Deployment":           "{template: {spec: " + spec + "}}",
		"apps/v1 ReplicaSet":           "{template: {spec: " + spec + "}}",
		"apps/v1 StatefulSet":          "{template: {spec: " + spec + "}}",
		"apps/v1 DaemonSet":            "{template: {spec: " + spec + "}}",
		"batch/v1 Job":                 "{template: {spec: " + spec + "}}",
		"batch/v1 CronJob":             "{schedule: '* * * * *', jobTemplate: {spec: {template: {spec: " + spec + "}}}}",
		"v1 ReplicationController":     "{template: {spec: " + spec + "}}",
		"v1 Pod":                       spec,
		"extensions/v1beta1 DaemonSet": "{template: {spec: " + spec + "}}",
	}
	paths := map[string]string{
		"batch/v1 CronJob": "spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged",
		"v1 Pod":           "spec.containers[0].securityContext.privileged",
	}
	for kv, s := range kinds {
		var apiVersion, kind string
		for i := range kv {
			if kv[i] == ' ' {
				apiVersion, kind = kv[:i], kv[i+1:]
			}
		}
		t.Run(kind, func(t *testing.T) {
			obj := decodeOne(t, "apiVersion: "+apiVersion+"\nkind: "+kind+"\nmetadata: {name: w}\nspec: "+s+"\n")
			want := paths[kv]
			if want == "" {
				want = "spec.template.spec.containers[0].securityContext.privileged"
			}
			got := checksOf(evaluate(obj, p), "pss.privileged")
			if diff := cmp.Diff([]string{"pss.privileged@" + want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("PodTemplate", func(t *testing.T) {
		obj := decodeOne(t, "apiVersion: v1\nkind: PodTemplate\nmetadata: {name: w}\ntemplate: {spec: "+spec+"}\n")
		if got := checksOf(evaluate(obj, p), "pss.privileged"); len(got) != 1 || got[0] != "pss.privileged@template.spec.containers[0].securityContext.privileged" {
			t.Errorf("got %v", got)
		}
	})
}

func TestOtherKindsPassThrough(t *testing.T) {
	p, _ := DefaultPolicy()
	obj := decodeOne(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {privileged: 'true'}\n")
	if fs := evaluate(obj, p); len(fs) != 0 {
		t.Errorf("a ConfigMap got findings: %+v", fs)
	}
}

func TestFindingCarriesResourceModeAndSource(t *testing.T) {
	p := compile(t, "mode: Warn")
	obj := podWith(t, func(p *corev1.Pod) { p.Spec.Containers[0].Image = "registry.example.com/app:latest" })
	fs := evaluate(obj, p)
	if len(fs) != 1 {
		t.Fatalf("want 1 finding, got %+v", fs)
	}
	want := Finding{
		Check: "image.latest", Severity: SeverityMedium, Mode: "Warn", Policy: "test",
		Resource:  Resource{APIVersion: "v1", Kind: "Pod", Namespace: "app", Name: "ok"},
		Container: "app", Path: "spec.containers[0].image",
		Message:     `image "registry.example.com/app:latest" uses the latest tag`,
		Remediation: checkImageLatest.Remediation, File: "test.yaml", Line: 1,
	}
	if diff := cmp.Diff(want, fs[0]); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if fs[0].Blocking(SeverityLow) {
		t.Error("a Warn finding must not block")
	}
}

func TestBlocking(t *testing.T) {
	f := Finding{Mode: "Enforce", Severity: SeverityHigh}
	if !f.Blocking(SeverityHigh) || f.Blocking(SeverityCritical) {
		t.Error("Blocking must compare severity with the threshold")
	}
	f.Suppressed = &Suppression{By: "exception"}
	if f.Blocking(SeverityInfo) {
		t.Error("a suppressed finding must not block")
	}
}
