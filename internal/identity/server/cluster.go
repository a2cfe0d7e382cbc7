package server

import (
	"context"
	"log/slog"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/outrider-sec/outrider/internal/identity/provenance"
	"github.com/outrider-sec/outrider/internal/identity/push"
)

type bundle = x509bundle.Bundle

// cachedNamespaces reads namespaces from the informer cache, and from the API server when the
// cache does not have one yet (a namespace created a moment ago).
type cachedNamespaces struct {
	cache *push.Informers
	live  kubernetes.Interface
}

func (c cachedNamespaces) GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	ns, err := c.cache.Namespace(name)
	if apierrors.IsNotFound(err) {
		return c.live.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	}
	return ns, err
}

// keyWatcher follows the provenance-keys ConfigMap and installs its keys.
type keyWatcher struct {
	factory  informers.SharedInformerFactory
	informer cache.SharedIndexInformer
}

func newKeyWatcher(client kubernetes.Interface, namespace, name string, p *keyedProvenance, log *slog.Logger) (*keyWatcher, error) {
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}))
	inf := f.Core().V1().ConfigMaps().Informer()
	set := func(obj any) {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok || cm.Name != name {
			return
		}
		keys, err := provenance.ParseKeys(cm.Data)
		if err != nil {
			log.Error("provenance keys: some entries are unusable", "configMap", name, "err", err.Error())
		}
		p.SetKeys(keys)
		log.Info("provenance keys installed", "configMap", name, "keys", len(keys))
	}
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    set,
		UpdateFunc: func(_, obj any) { set(obj) },
		DeleteFunc: func(any) { p.SetKeys(nil); log.Warn("provenance keys removed", "configMap", name) },
	})
	if err != nil {
		return nil, err
	}
	return &keyWatcher{factory: f, informer: inf}, nil
}

func (k *keyWatcher) start(ctx context.Context) error {
	k.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), k.informer.HasSynced) {
		return ctx.Err()
	}
	return nil
}

func (k *keyWatcher) shutdown() { k.factory.Shutdown() }
