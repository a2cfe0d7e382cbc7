//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
)

func TestCompliantDeploymentRuns(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "compliant", nil)
	cs, warns := clientWithWarnings(t)
	ctx := ctxFor(t, 2*time.Minute)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "hello"}},
			Template: podTemplate("hello", restrictedPodSpec()),
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("a restricted Deployment was refused: %v", err)
	}
	if w := warns.all(); len(w) > 0 {
		t.Errorf("a compliant Deployment got admission warnings: %q", w)
	}
	eventually(t, 90*time.Second, 500*time.Millisecond, "deployment Available", func(ctx context.Context) (bool, error) {
		got, err := env.cs.AppsV1().Deployments(ns).Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue && got.Status.AvailableReplicas == 1 {
				return true, nil
			}
		}
		return false, nil
	})
}

func TestPrivilegedDeploymentRefusedAtApply(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "priv", nil)
	ctx := ctxFor(t, time.Minute)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "root-shell", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "root-shell"}},
			Template: podTemplate("root-shell", privilegedPodSpec()),
		},
	}
	_, err := env.cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	requireRefused(t, err, "a privileged Deployment",
		"outrider refused Deployment "+ns+"/root-shell",
		"[pss.privileged] critical",
		"(at spec.template.spec.containers[0].securityContext.privileged)",
		"fix: ")
	if _, err := env.cs.AppsV1().Deployments(ns).Get(ctx, "root-shell", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused Deployment exists anyway (get: %v)", err)
	}
	rs, err := env.cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Items) > 0 {
		t.Errorf("a refused Deployment left %d ReplicaSets", len(rs.Items))
	}
}

// TestEveryWorkloadKindIsJudgedAtTheWorkload tries invariant 1: a privileged pod template must
// be refused at the object the user writes, whatever its kind, and in whichever container list
// it hides; not later, when a controller creates the pods (by then kubectl apply has succeeded).
func TestEveryWorkloadKindIsJudgedAtTheWorkload(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "kinds", nil)
	sel := func(app string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
	}
	jobSpec := func() batchv1.JobSpec {
		s := privilegedPodSpec()
		s.RestartPolicy = corev1.RestartPolicyNever
		return batchv1.JobSpec{Template: podTemplate("job", s)}
	}
	const inTemplate = "spec.template.spec.containers[0].securityContext.privileged"
	cases := []struct {
		kind, path string
		create     func(ctx context.Context, name string) error
	}{
		{"CronJob", "spec.jobTemplate." + inTemplate, func(ctx context.Context, name string) error {
			_, err := env.cs.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec:       batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: jobSpec()}},
			}, metav1.CreateOptions{})
			return err
		}},
		{"Job", inTemplate, func(ctx context.Context, name string) error {
			_, err := env.cs.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: jobSpec()}, metav1.CreateOptions{})
			return err
		}},
		{"DaemonSet", inTemplate, func(ctx context.Context, name string) error {
			_, err := env.cs.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec:       appsv1.DaemonSetSpec{Selector: sel(name), Template: podTemplate(name, privilegedPodSpec())},
			}, metav1.CreateOptions{})
			return err
		}},
		{"StatefulSet", inTemplate, func(ctx context.Context, name string) error {
			_, err := env.cs.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec:       appsv1.StatefulSetSpec{ServiceName: name, Selector: sel(name), Template: podTemplate(name, privilegedPodSpec())},
			}, metav1.CreateOptions{})
			return err
		}},
		{"ReplicaSet", inTemplate, func(ctx context.Context, name string) error {
			_, err := env.cs.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec:       appsv1.ReplicaSetSpec{Selector: sel(name), Template: podTemplate(name, privilegedPodSpec())},
			}, metav1.CreateOptions{})
			return err
		}},
		{"ReplicationController", inTemplate, func(ctx context.Context, name string) error {
			tmpl := podTemplate(name, privilegedPodSpec())
			_, err := env.cs.CoreV1().ReplicationControllers(ns).Create(ctx, &corev1.ReplicationController{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec:       corev1.ReplicationControllerSpec{Selector: map[string]string{"app": name}, Template: &tmpl},
			}, metav1.CreateOptions{})
			return err
		}},
		{"PodTemplate", "template.spec.containers[0].securityContext.privileged", func(ctx context.Context, name string) error {
			_, err := env.cs.CoreV1().PodTemplates(ns).Create(ctx, &corev1.PodTemplate{
				ObjectMeta: metav1.ObjectMeta{Name: name}, Template: podTemplate(name, privilegedPodSpec()),
			}, metav1.CreateOptions{})
			return err
		}},
		{"Pod", "spec.containers[0].securityContext.privileged", func(ctx context.Context, name string) error {
			_, err := env.cs.CoreV1().Pods(ns).Create(ctx, newPod(ns, name, privilegedPodSpec()), metav1.CreateOptions{})
			return err
		}},
		{"Deployment", "spec.template.spec.initContainers[0].securityContext.privileged", func(ctx context.Context, name string) error {
			spec := restrictedPodSpec()
			init := restrictedContainer("setup")
			init.Command = []string{"true"}
			init.SecurityContext.Privileged = ptr.To(true)
			init.SecurityContext.AllowPrivilegeEscalation = nil
			spec.InitContainers = []corev1.Container{init}
			_, err := env.cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec:       appsv1.DeploymentSpec{Selector: sel(name), Template: podTemplate(name, spec)},
			}, metav1.CreateOptions{})
			return err
		}},
	}
	for _, tc := range cases {
		name := strings.ToLower(tc.kind) + "-" + rand.String(4)
		t.Run(tc.kind+"/"+tc.path, func(t *testing.T) {
			ctx := ctxFor(t, 30*time.Second)
			err := tc.create(ctx, name)
			requireRefused(t, err, "a privileged "+tc.kind,
				fmt.Sprintf("outrider refused %s %s/%s", tc.kind, ns, name), "[pss.privileged]", "(at "+tc.path+")")
		})
	}
	// Nothing refused may exist, and no controller may have made pods from it.
	ctx := ctxFor(t, 30*time.Second)
	pods, err := env.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) > 0 {
		t.Errorf("refused workloads left %d pods", len(pods.Items))
	}
}

// TestKubeSystemUnaffected tries invariant 6: the webhook never selects kube-system, so the
// cluster's own components can always be (re)created, even privileged ones.
func TestKubeSystemUnaffected(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 30*time.Second)
	name := "e2e-kube-system-" + rand.String(5)
	_, err := env.cs.CoreV1().Pods("kube-system").Create(ctx, newPod("kube-system", name, privilegedPodSpec()), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("a privileged pod in kube-system was refused; the webhook must never select kube-system: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := env.cs.CoreV1().Pods("kube-system").Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting kube-system/%s: %v", name, err)
		}
	})
}
