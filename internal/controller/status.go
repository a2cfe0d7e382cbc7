package controller

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/policy"
)

// statusReconciler tells users, in each policy's status, whether it compiled and is in force.
// It runs on the leader only.
type statusReconciler struct {
	client client.Client
	// secrets reads key.secretRef keys, so a missing Secret shows in the status.
	secrets policy.SecretReader
}

func (r *statusReconciler) setup(mgr ctrl.Manager) error {
	if err := ctrl.NewControllerManagedBy(mgr).Named("clustersecuritypolicy-status").
		For(&v1alpha1.ClusterSecurityPolicy{}).Complete(reconcile.Func(r.reconcileCluster)); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named("securitypolicy-status").
		For(&v1alpha1.SecurityPolicy{}).Complete(reconcile.Func(r.reconcileNamespaced))
}

func (r *statusReconciler) reconcileCluster(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var p v1alpha1.ClusterSecurityPolicy
	return r.reconcile(ctx, req, &p, "", &p.Spec, &p.Status)
}

func (r *statusReconciler) reconcileNamespaced(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var p v1alpha1.SecurityPolicy
	return r.reconcile(ctx, req, &p, req.Namespace, &p.Spec, &p.Status)
}

// reconcile reads obj, whose spec and status the pointers point into, and writes its status
// when it is not what compiling the spec says.
func (r *statusReconciler) reconcile(ctx context.Context, req reconcile.Request, obj client.Object, namespace string,
	spec *v1alpha1.SecurityPolicySpec, status *v1alpha1.SecurityPolicyStatus) (reconcile.Result, error) {
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	desired := statusFor(namespace, obj.GetName(), spec, obj.GetGeneration(), r.secrets)
	if desired == *status {
		return reconcile.Result{}, nil
	}
	*status = desired
	return reconcile.Result{}, ignoreConflict(r.client.Status().Update(ctx, obj))
}

// statusFor compiles the spec the way the policy cache does and reports the outcome.
func statusFor(namespace, name string, spec *v1alpha1.SecurityPolicySpec, generation int64, secrets policy.SecretReader) v1alpha1.SecurityPolicyStatus {
	if _, err := policy.CompileWith(name, namespace, spec, policy.CompileOptions{Secrets: secrets}); err != nil {
		return v1alpha1.SecurityPolicyStatus{Ready: false, Message: err.Error(), ObservedGeneration: generation}
	}
	return v1alpha1.SecurityPolicyStatus{Ready: true, Message: "in force", ObservedGeneration: generation}
}

// ignoreConflict drops a conflict: the newer object will be reconciled again.
func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}
