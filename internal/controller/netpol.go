package controller

import (
	"context"
	"log/slog"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/equality"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/mesh/accesspolicy"
)

// netpolReconciler keeps, for each AccessPolicy, the plain NetworkPolicy `outrider mesh netpol`
// renders from it applied: L3/L4 defence in depth under the proxies (docs/mesh-policy.md). The
// NetworkPolicy is owned by its AccessPolicy, so deleting the one garbage-collects the other.
// An AccessPolicy that does not validate leaves its NetworkPolicy as it was: removing it would
// open the pods it selects at L3/L4. It runs on the leader.
type netpolReconciler struct {
	client client.Client
	log    *slog.Logger
}

func (r *netpolReconciler) setup(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("accesspolicy-networkpolicy").
		For(&v1alpha1.AccessPolicy{}).Owns(&networkingv1.NetworkPolicy{}).
		Complete(reconcile.Func(r.reconcile))
}

func (r *netpolReconciler) reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var ap v1alpha1.AccessPolicy
	if err := r.client.Get(ctx, req.NamespacedName, &ap); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if ap.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}
	rendered, err := accesspolicy.RenderNetworkPolicy(&ap)
	if err != nil {
		r.log.Warn("AccessPolicy not rendered as a NetworkPolicy; the previous one stays", "accesspolicy", req.String(), "err", err.Error())
		return reconcile.Result{}, nil
	}
	want := rendered.Policy
	var have networkingv1.NetworkPolicy
	err = r.client.Get(ctx, client.ObjectKeyFromObject(want), &have)
	switch {
	case apierrors.IsNotFound(err):
		return reconcile.Result{}, client.IgnoreAlreadyExists(r.client.Create(ctx, want))
	case err != nil:
		return reconcile.Result{}, err
	}
	if equality.Semantic.DeepEqual(have.Spec, want.Spec) && equality.Semantic.DeepEqual(have.Labels, want.Labels) &&
		equality.Semantic.DeepEqual(have.OwnerReferences, want.OwnerReferences) {
		return reconcile.Result{}, nil
	}
	have.Spec, have.Labels, have.Annotations, have.OwnerReferences = want.Spec, want.Labels, want.Annotations, want.OwnerReferences
	return reconcile.Result{}, ignoreConflict(r.client.Update(ctx, &have))
}
