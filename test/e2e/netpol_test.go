//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var accessPolicyGVR = schema.GroupVersionResource{Group: "security.outrider.dev", Version: "v1alpha1", Resource: "accesspolicies"}

// TestAccessPolicyKeepsANetworkPolicyApplied: the controller renders each AccessPolicy as a
// plain NetworkPolicy (L3/L4 defence in depth), keeps it as rendered when someone edits it, and
// the NetworkPolicy goes with its AccessPolicy.
func TestAccessPolicyKeepsANetworkPolicyApplied(t *testing.T) {
	ns := newNamespace(t, "netpol", nil)
	ap := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.outrider.dev/v1alpha1", "kind": "AccessPolicy",
		"metadata": map[string]any{"name": "backend", "namespace": ns},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "backend"}},
			"ingress": []any{map[string]any{
				"from":  []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "frontend"}}}},
				"ports": []any{map[string]any{"port": int64(8080)}},
			}},
		},
	}}
	ctx := ctxFor(t, 2*time.Minute)
	created, err := env.dyn.Resource(accessPolicyGVR).Namespace(ns).Create(ctx, ap, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const name = "outrider-backend"
	check := func(ctx context.Context) (bool, error) {
		np, err := env.cs.NetworkingV1().NetworkPolicies(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		owned := len(np.OwnerReferences) == 1 && np.OwnerReferences[0].UID == created.GetUID()
		ok := owned && np.Spec.PodSelector.MatchLabels["app"] == "backend" && len(np.Spec.Ingress) == 1 &&
			len(np.Spec.Ingress[0].Ports) == 1 && np.Spec.Ingress[0].Ports[0].Port.IntVal == 8080 &&
			len(np.Spec.Ingress[0].From) == 1 && np.Spec.Ingress[0].From[0].PodSelector.MatchLabels["app"] == "frontend"
		return ok, nil
	}
	eventually(t, 30*time.Second, 250*time.Millisecond, "NetworkPolicy rendered from the AccessPolicy", check)

	// Someone widens it by hand: the controller puts it back.
	np, err := env.cs.NetworkingV1().NetworkPolicies(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	np.Spec.Ingress[0].From = nil
	if _, err := env.cs.NetworkingV1().NetworkPolicies(ns).Update(ctx, np, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, 250*time.Millisecond, "the edited NetworkPolicy restored", check)

	if err := env.dyn.Resource(accessPolicyGVR).Namespace(ns).Delete(ctx, "backend", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, 500*time.Millisecond, "the NetworkPolicy gone with its AccessPolicy", func(ctx context.Context) (bool, error) {
		_, err := env.cs.NetworkingV1().NetworkPolicies(ns).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}
