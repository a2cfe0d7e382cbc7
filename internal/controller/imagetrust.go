package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/openvex/go-vex/pkg/vex"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/outrider-sec/outrider/internal/admission"
	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/imagetrust"
	"github.com/outrider-sec/outrider/internal/imagetrust/registry"
	"github.com/outrider-sec/outrider/internal/imagetrust/vuln"
	"github.com/outrider-sec/outrider/internal/policy"
)

// VEXLabel marks the ConfigMaps, in the controller's namespace, whose data values are OpenVEX
// documents that apply to the vulnerability reports read from registries.
const VEXLabel = "security.outrider.dev/vex"

// imageFacts is the controller's image-trust front end: it resolves digests for the mutating
// webhook and gathers registry data for the validating webhook and the audit, authenticating
// with the pod's pull secrets (and its ServiceAccount's) read on demand.
type imageFacts struct {
	verifier *imagetrust.Verifier
	// live reads Secrets and ServiceAccounts (get only); nil reads none (anonymous pulls).
	live client.Reader
	// keychains caches pull credentials per namespace, ServiceAccount and secret names.
	keychains *registry.Cache[authn.Keychain]
	vex       *vexDocuments
}

var (
	_ admission.ImageFacts     = (*imageFacts)(nil)
	_ admission.DigestResolver = (*imageFacts)(nil)
)

// newImageFacts builds the front end from the controller's options; its metrics go to the
// manager's registry.
func newImageFacts(opts Options, live client.Reader, log *slog.Logger) (*imageFacts, error) {
	m := registry.NewMetrics(metrics.Registry)
	own, err := ownCredentials(opts.RegistryCredentials)
	if err != nil {
		return nil, err
	}
	client := registry.New(registry.Options{Timeout: opts.RegistryTimeout, Mirrors: opts.RegistryMirrors, Metrics: m, Keychain: own})
	f := &imageFacts{
		verifier: imagetrust.NewVerifier(imagetrust.Config{
			Client: client, TTL: opts.ImageCacheTTL, NegativeTTL: opts.ImageNegativeCacheTTL,
			Metrics: m, AllowedHosts: opts.RegistryHosts,
		}),
		keychains: registry.NewCache[authn.Keychain]("keychain", 30*time.Second, 5*time.Second, 1000, m),
		vex:       &vexDocuments{reader: live, namespace: opts.Namespace, interval: opts.VEXInterval, log: log.With("component", "vex")},
	}
	if opts.ReadPullSecrets {
		f.live = live
	}
	return f, nil
}

// ownCredentials reads the controller's docker config.json (a mounted dockerconfigjson
// Secret) into a keychain; nil when path is empty.
func ownCredentials(path string) (authn.Keychain, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--registry-credentials: %w", err)
	}
	kc, err := registry.PullSecretKeychain([]corev1.Secret{{
		ObjectMeta: metav1.ObjectMeta{Name: path},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: data},
	}})
	if err != nil {
		return nil, fmt.Errorf("--registry-credentials: %w", err)
	}
	return kc, nil
}

// ImageData gathers what the registry holds about refs, for admission.
func (f *imageFacts) ImageData(ctx context.Context, refs []imageref.Reference, pull admission.PullContext) policy.ImageData {
	return f.gather(ctx, refs, pull, false)
}

// auditData is ImageData for the audit: evidence is read afresh, so a report attached since
// admission is judged.
func (f *imageFacts) auditData(ctx context.Context, refs []imageref.Reference, pull admission.PullContext) policy.ImageData {
	return f.gather(ctx, refs, pull, true)
}

func (f *imageFacts) gather(ctx context.Context, refs []imageref.Reference, pull admission.PullContext, fresh bool) policy.ImageData {
	kc := f.keychain(ctx, pull)
	return &imagetrust.Data{RequireReport: true, Registry: f.verifier.Gather(ctx, refs, kc, fresh), VEXDocs: f.vex.documents()}
}

// ResolveDigest resolves a tag for the mutating webhook.
func (f *imageFacts) ResolveDigest(ctx context.Context, ref imageref.Reference, pull admission.PullContext) (string, error) {
	return f.verifier.Digest(ctx, ref, f.keychain(ctx, pull))
}

// keychain returns the pod's pull credentials as the kubelet would use them: its
// imagePullSecrets and its ServiceAccount's. Unreadable ones are left out (logged by the
// cache's error path), so the lookup degrades to the controller's own credentials.
func (f *imageFacts) keychain(ctx context.Context, pull admission.PullContext) authn.Keychain {
	if f.live == nil {
		return nil
	}
	key := pull.Namespace + "/" + pull.ServiceAccount + "/" + strings.Join(pull.PullSecrets, ",")
	kc, err := f.keychains.Get(ctx, key, func(ctx context.Context) (authn.Keychain, error) {
		return f.readKeychain(ctx, pull)
	})
	if err != nil {
		return nil
	}
	return kc
}

func (f *imageFacts) readKeychain(ctx context.Context, pull admission.PullContext) (authn.Keychain, error) {
	names := append([]string{}, pull.PullSecrets...)
	var sa corev1.ServiceAccount
	err := f.live.Get(ctx, client.ObjectKey{Namespace: pull.Namespace, Name: pull.ServiceAccount}, &sa)
	switch {
	case err == nil:
		for _, s := range sa.ImagePullSecrets {
			names = append(names, s.Name)
		}
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading ServiceAccount %s/%s: %w", pull.Namespace, pull.ServiceAccount, err)
	}
	var secrets []corev1.Secret
	for _, name := range names {
		var s corev1.Secret
		if err := f.live.Get(ctx, client.ObjectKey{Namespace: pull.Namespace, Name: name}, &s); err != nil {
			if apierrors.IsNotFound(err) {
				continue // the kubelet ignores a missing pull secret too
			}
			return nil, fmt.Errorf("reading pull secret %s/%s: %w", pull.Namespace, name, err)
		}
		secrets = append(secrets, s)
	}
	kc, err := registry.PullSecretKeychain(secrets)
	return kc, err
}

// secretReader reads the key of a Secret for key.secretRef authorities, from the API server.
func secretReader(live client.Reader) policy.SecretReader {
	return func(namespace, name, key string) ([]byte, error) {
		var s corev1.Secret
		if err := live.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, &s); err != nil {
			return nil, err
		}
		data, ok := s.Data[key]
		if !ok {
			return nil, fmt.Errorf("the Secret has no key %q", key)
		}
		return data, nil
	}
}

// vexDocuments holds the OpenVEX documents of the labelled ConfigMaps in the controller's
// namespace, re-read every interval; a change calls onChange (the audit re-runs).
type vexDocuments struct {
	reader    client.Reader
	namespace string
	interval  time.Duration
	log       *slog.Logger
	onChange  func()

	mu   sync.RWMutex
	docs []*vex.VEX
	seen string // the ConfigMaps' names and resource versions last read
}

func (v *vexDocuments) documents() []*vex.VEX {
	if v == nil {
		return nil
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.docs
}

// NeedLeaderElection is false: every replica's webhooks apply VEX documents.
func (v *vexDocuments) NeedLeaderElection() bool { return false }

// Start re-reads the documents until ctx ends.
func (v *vexDocuments) Start(ctx context.Context) error {
	for {
		if err := v.load(ctx); err != nil && ctx.Err() == nil {
			v.log.Warn("reading VEX ConfigMaps failed; keeping the documents read before", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(v.interval):
		}
	}
}

func (v *vexDocuments) load(ctx context.Context) error {
	var cms corev1.ConfigMapList
	if err := v.reader.List(ctx, &cms, client.InNamespace(v.namespace), client.HasLabels{VEXLabel}); err != nil {
		return err
	}
	sort.Slice(cms.Items, func(i, j int) bool { return cms.Items[i].Name < cms.Items[j].Name })
	var seen strings.Builder
	for _, cm := range cms.Items {
		seen.WriteString(cm.Name + "@" + cm.ResourceVersion + ";")
	}
	v.mu.RLock()
	same := seen.String() == v.seen
	v.mu.RUnlock()
	if same {
		return nil
	}
	var docs []*vex.VEX
	var errs []error
	for _, cm := range cms.Items {
		keys := make([]string, 0, len(cm.Data))
		for k := range cm.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			source := fmt.Sprintf("ConfigMap %s/%s key %s", cm.Namespace, cm.Name, k)
			doc, err := vuln.ParseVEX([]byte(cm.Data[k]), source)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			docs = append(docs, doc)
		}
	}
	v.mu.Lock()
	v.docs, v.seen = docs, seen.String()
	v.mu.Unlock()
	v.log.Info("VEX documents in force", "count", len(docs), "invalid", len(errs))
	if v.onChange != nil {
		v.onChange()
	}
	return errors.Join(errs...)
}
