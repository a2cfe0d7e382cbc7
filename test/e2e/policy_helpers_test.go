//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

var (
	cspGVR          = schema.GroupVersionResource{Group: "security.outrider.dev", Version: "v1alpha1", Resource: "clustersecuritypolicies"}
	spGVR           = schema.GroupVersionResource{Group: "security.outrider.dev", Version: "v1alpha1", Resource: "securitypolicies"}
	policyReportGVR = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "policyreports"}
)

// excludeFromDefaultPolicy adds ns to the default ClusterSecurityPolicy's
// spec.match.excludeNamespaces and takes it out again when the test ends. Tests that call it
// change cluster-wide state and must not run in parallel.
func excludeFromDefaultPolicy(t *testing.T, ns string) {
	t.Helper()
	edit := func(add bool) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			u, err := env.dyn.Resource(cspGVR).Get(ctx, defaultPolicy, metav1.GetOptions{})
			if err != nil {
				return err
			}
			excluded, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "match", "excludeNamespaces")
			has := slices.Contains(excluded, ns)
			switch {
			case add && !has:
				excluded = append(excluded, ns)
			case !add && has:
				excluded = slices.DeleteFunc(excluded, func(s string) bool { return s == ns })
			default:
				return nil
			}
			if len(excluded) == 0 {
				unstructured.RemoveNestedField(u.Object, "spec", "match", "excludeNamespaces")
				if m, _, _ := unstructured.NestedMap(u.Object, "spec", "match"); len(m) == 0 {
					unstructured.RemoveNestedField(u.Object, "spec", "match")
				}
			} else if err := unstructured.SetNestedStringSlice(u.Object, excluded, "spec", "match", "excludeNamespaces"); err != nil {
				return err
			}
			_, err = env.dyn.Resource(cspGVR).Update(ctx, u, metav1.UpdateOptions{})
			return err
		})
	}
	if err := edit(true); err != nil {
		t.Fatalf("excluding %s from the default ClusterSecurityPolicy: %v", ns, err)
	}
	t.Cleanup(func() {
		if err := edit(false); err != nil {
			t.Errorf("RESTORE FAILED: remove %s from clustersecuritypolicy/default spec.match.excludeNamespaces by hand: %v", ns, err)
		}
	})
}

// toUnstructured converts a typed policy.
func toUnstructured(t *testing.T, obj runtime.Object) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// createSecurityPolicy creates a namespaced SecurityPolicy (deleted with its namespace) and
// waits until the controller reports it compiled.
func createSecurityPolicy(t *testing.T, ns, name string, spec v1alpha1.SecurityPolicySpec) {
	t.Helper()
	p := &v1alpha1.SecurityPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "SecurityPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       spec,
	}
	ctx := ctxFor(t, 20*time.Second)
	if _, err := env.dyn.Resource(spGVR).Namespace(ns).Create(ctx, toUnstructured(t, p), metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating SecurityPolicy %s/%s: %v", ns, name, err)
	}
	waitPolicyReady(t, spGVR, ns, name)
}

// createClusterPolicy creates a ClusterSecurityPolicy, deletes it when the test ends, and waits
// until the controller reports it compiled.
func createClusterPolicy(t *testing.T, p *v1alpha1.ClusterSecurityPolicy) {
	t.Helper()
	p.TypeMeta = metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ClusterSecurityPolicy"}
	ctx := ctxFor(t, 20*time.Second)
	if _, err := env.dyn.Resource(cspGVR).Create(ctx, toUnstructured(t, p), metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ClusterSecurityPolicy %s: %v", p.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := env.dyn.Resource(cspGVR).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("RESTORE FAILED: delete clustersecuritypolicy %s by hand: %v", p.Name, err)
		}
	})
	waitPolicyReady(t, cspGVR, "", p.Name)
}

// waitPolicyReady waits for status.ready at the policy's current generation.
func waitPolicyReady(t *testing.T, gvr schema.GroupVersionResource, ns, name string) {
	t.Helper()
	eventually(t, 30*time.Second, 250*time.Millisecond, fmt.Sprintf("%s %s/%s ready", gvr.Resource, ns, name), func(ctx context.Context) (bool, error) {
		var u *unstructured.Unstructured
		var err error
		if ns == "" {
			u, err = env.dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
		} else {
			u, err = env.dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		}
		if err != nil {
			return false, err
		}
		ready, _, _ := unstructured.NestedBool(u.Object, "status", "ready")
		observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		if msg, _, _ := unstructured.NestedString(u.Object, "status", "message"); !ready && observed == u.GetGeneration() && msg != "" {
			return false, fmt.Errorf("the policy does not compile: %s", msg)
		}
		return ready && observed == u.GetGeneration(), nil
	})
}

// consistently runs probe until it succeeds n times in a row: the controller has replicas, each
// with its own policy cache, and the API server may ask any of them.
func consistently(t *testing.T, timeout time.Duration, n int, what string, probe func(ctx context.Context) (bool, error)) {
	t.Helper()
	streak := 0
	eventually(t, timeout, 200*time.Millisecond, what, func(ctx context.Context) (bool, error) {
		ok, err := probe(ctx)
		if err != nil {
			return false, err
		}
		if ok {
			streak++
		} else {
			streak = 0
		}
		return streak >= n, nil
	})
}
