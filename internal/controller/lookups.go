package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// clusterLookups answers the webhooks' questions about namespaces and pods.
type clusterLookups struct {
	cached client.Reader // namespaces, from the informer cache
	live   client.Reader // the API server, for what the cache does not hold (yet)
}

// NamespaceLabels reads a namespace's labels from the cache, or from the API server when the
// namespace is newer than the cache (a namespace and its first pod applied together).
func (l *clusterLookups) NamespaceLabels(ctx context.Context, name string) (map[string]string, error) {
	var ns corev1.Namespace
	err := l.cached.Get(ctx, client.ObjectKey{Name: name}, &ns)
	if apierrors.IsNotFound(err) {
		err = l.live.Get(ctx, client.ObjectKey{Name: name}, &ns)
	}
	if err != nil {
		return nil, err
	}
	return ns.Labels, nil
}

// Pod reads a pod from the API server: exec is rare, so pods are not cached.
func (l *clusterLookups) Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	var pod corev1.Pod
	if err := l.live.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &pod); err != nil {
		return nil, err
	}
	return &pod, nil
}
