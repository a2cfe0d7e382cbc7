package push

import (
	"context"
	"encoding/pem"
	"log/slog"
	"maps"
	"sync"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// The bootstrap trust bundle: a ConfigMap (default name BundleConfigMap) in every meshed
// namespace, which the injector mounts into the proxy. The proxy verifies the identity
// service's certificate against it before it has anything else; afterwards Watch keeps its
// bundle current.
const (
	BundleConfigMap = "outrider-trust-bundle"
	// BundleKey holds the roots, PEM.
	BundleKey = "bundle.pem"
	// TrustDomainKey holds the trust domain's name.
	TrustDomainKey = "trust-domain"
)

// Publisher keeps the bundle ConfigMap of every meshed namespace current. It writes only what
// differs from its cache, and restores a ConfigMap that someone else edited.
type Publisher struct {
	name     string
	client   kubernetes.Interface
	log      *slog.Logger
	factory  informers.SharedInformerFactory
	informer cache.SharedIndexInformer
	lister   corelisters.ConfigMapLister

	mu   sync.Mutex
	want map[string]string // data every namespace's ConfigMap should hold
	nss  []string
	kick chan struct{}
}

// NewPublisher watches the bundle ConfigMaps called name (empty: BundleConfigMap) in all
// namespaces; onChange is called (it must not block) when one changes, so the hub can restore
// it.
func NewPublisher(client kubernetes.Interface, name string, log *slog.Logger, onChange func()) (*Publisher, error) {
	if name == "" {
		name = BundleConfigMap
	}
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
	}))
	inf := f.Core().V1().ConfigMaps().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(any, any) { onChange() },
		DeleteFunc: func(any) { onChange() },
	}); err != nil {
		return nil, err
	}
	return &Publisher{
		name: name, client: client, log: log, factory: f, informer: inf,
		lister: f.Core().V1().ConfigMaps().Lister(), kick: make(chan struct{}, 1),
	}, nil
}

// Start starts the ConfigMap informer and waits for its cache.
func (p *Publisher) Start(ctx context.Context) bool {
	p.factory.Start(ctx.Done())
	return cache.WaitForCacheSync(ctx.Done(), p.informer.HasSynced)
}

// Shutdown stops the informer.
func (p *Publisher) Shutdown() { p.factory.Shutdown() }

// Publish records what the ConfigMaps should hold (Config.Publish of the hub); Run writes it.
func (p *Publisher) Publish(_ context.Context, namespaces []string, b *x509bundle.Bundle) {
	var roots []byte
	for _, r := range b.X509Authorities() {
		roots = append(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Raw})...)
	}
	p.mu.Lock()
	p.want = map[string]string{BundleKey: string(roots), TrustDomainKey: b.TrustDomain().Name()}
	p.nss = namespaces
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run writes the ConfigMaps after every Publish until ctx ends.
func (p *Publisher) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		}
		p.mu.Lock()
		want, nss := p.want, p.nss
		p.mu.Unlock()
		for _, ns := range nss {
			if ctx.Err() != nil {
				return
			}
			p.sync(ctx, ns, want)
		}
	}
}

func (p *Publisher) sync(ctx context.Context, ns string, want map[string]string) {
	cur, err := p.lister.ConfigMaps(ns).Get(p.name)
	cms := p.client.CoreV1().ConfigMaps(ns)
	switch {
	case apierrors.IsNotFound(err):
		_, err = cms.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: ns, Labels: map[string]string{
				"app.kubernetes.io/part-of": "outrider", "app.kubernetes.io/component": "identity",
			}},
			Data: want,
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = nil // another replica, or our cache is behind: the watch brings it
		}
	case err != nil:
	case maps.Equal(cur.Data, want):
		return
	default:
		upd := cur.DeepCopy()
		upd.Data, upd.BinaryData = want, nil
		_, err = cms.Update(ctx, upd, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			err = nil // the newer version's event triggers another pass
		}
	}
	if err != nil {
		p.log.Warn("publishing the trust bundle failed", "namespace", ns, "err", err.Error())
		return
	}
	p.log.Info("trust bundle published", "namespace", ns)
}
