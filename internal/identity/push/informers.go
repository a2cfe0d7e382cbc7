package push

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/policy"
)

// accessPolicies is the AccessPolicy resource.
var accessPolicies = v1alpha1.GroupVersion.WithResource("accesspolicies")

// Informers is the Source backed by client-go informers: pods (trimmed to what the mesh
// reads), namespaces, and AccessPolicies when the cluster has the CRD.
type Informers struct {
	log        *slog.Logger
	factory    informers.SharedInformerFactory
	dynFactory dynamicinformer.DynamicSharedInformerFactory
	pods       corelisters.PodLister
	namespaces corelisters.NamespaceLister
	policies   cache.GenericLister // nil without the CRD
	synced     []cache.InformerSynced
}

// NewInformers sets up the informers; onChange is called (it must not block) on every event.
func NewInformers(client kubernetes.Interface, dyn dynamic.Interface, disc discovery.DiscoveryInterface, log *slog.Logger, onChange func()) (*Informers, error) {
	i := &Informers{log: log, factory: informers.NewSharedInformerFactory(client, 0)}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { onChange() },
		UpdateFunc: func(any, any) { onChange() },
		DeleteFunc: func(any) { onChange() },
	}
	pods := i.factory.Core().V1().Pods().Informer()
	if err := pods.SetTransform(trimPod); err != nil {
		return nil, err
	}
	nss := i.factory.Core().V1().Namespaces().Informer()
	for _, inf := range []cache.SharedIndexInformer{pods, nss} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return nil, err
		}
		i.synced = append(i.synced, inf.HasSynced)
	}
	i.pods = i.factory.Core().V1().Pods().Lister()
	i.namespaces = i.factory.Core().V1().Namespaces().Lister()

	ok, err := hasResource(disc, accessPolicies.GroupVersion().String(), accessPolicies.Resource)
	if err != nil {
		return nil, err
	}
	if !ok {
		log.Warn("the AccessPolicy CRD is not installed: every meshed workload is unselected (allows meshed peers)")
		return i, nil
	}
	i.dynFactory = dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	gi := i.dynFactory.ForResource(accessPolicies)
	if _, err := gi.Informer().AddEventHandler(handler); err != nil {
		return nil, err
	}
	i.synced = append(i.synced, gi.Informer().HasSynced)
	i.policies = gi.Lister()
	return i, nil
}

func hasResource(disc discovery.DiscoveryInterface, gv, resource string) (bool, error) {
	list, err := disc.ServerResourcesForGroupVersion(gv)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("discovering %s: %w", gv, err)
	}
	return slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == resource }), nil
}

// Start starts the informers and waits until their caches are filled.
func (i *Informers) Start(ctx context.Context) error {
	i.factory.Start(ctx.Done())
	if i.dynFactory != nil {
		i.dynFactory.Start(ctx.Done())
	}
	if !cache.WaitForCacheSync(ctx.Done(), i.synced...) {
		return fmt.Errorf("waiting for the pod, namespace and AccessPolicy caches: %w", ctx.Err())
	}
	return nil
}

// Shutdown stops the informers.
func (i *Informers) Shutdown() {
	i.factory.Shutdown()
	if i.dynFactory != nil {
		i.dynFactory.Shutdown()
	}
}

// Pods returns every cached pod (trimmed).
func (i *Informers) Pods() []*corev1.Pod {
	pods, _ := i.pods.List(labels.Everything())
	return pods
}

// Namespaces returns every namespace.
func (i *Informers) Namespaces() []*corev1.Namespace {
	nss, _ := i.namespaces.List(labels.Everything())
	return nss
}

// Namespace returns a namespace from the cache.
func (i *Informers) Namespace(name string) (*corev1.Namespace, error) {
	return i.namespaces.Get(name)
}

// AccessPolicies returns every AccessPolicy; none without the CRD. An object that does not
// decode is skipped and logged (the CRD's schema makes that unlikely).
func (i *Informers) AccessPolicies() []v1alpha1.AccessPolicy {
	if i.policies == nil {
		return nil
	}
	objs, _ := i.policies.List(labels.Everything())
	out := make([]v1alpha1.AccessPolicy, 0, len(objs))
	for _, o := range objs {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		var ap v1alpha1.AccessPolicy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ap); err != nil {
			i.log.Error("skipping an AccessPolicy that does not decode", "policy", u.GetNamespace()+"/"+u.GetName(), "err", err.Error())
			continue
		}
		out = append(out, ap)
	}
	return out
}

// trimPod keeps what the mesh reads of a pod, so the cache of every pod in the cluster stays
// small: identity, labels, the mesh annotations, ServiceAccount, host network, whether it runs
// the proxy, phase, addresses.
func trimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	ann := map[string]string{}
	for _, k := range []string{policy.MeshAnnotation, policy.InjectAnnotation} {
		if v, ok := p.Annotations[k]; ok {
			ann[k] = v
		}
	}
	var proxy []corev1.Container
	if hasProxy(p) {
		proxy = []corev1.Container{{Name: policy.ProxyContainer}}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			Labels: p.Labels, Annotations: ann, DeletionTimestamp: p.DeletionTimestamp,
		},
		Spec:   corev1.PodSpec{ServiceAccountName: p.Spec.ServiceAccountName, HostNetwork: p.Spec.HostNetwork, InitContainers: proxy},
		Status: corev1.PodStatus{Phase: p.Status.Phase, PodIPs: p.Status.PodIPs},
	}, nil
}
