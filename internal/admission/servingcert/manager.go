package servingcert

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Config says where the certificate lives and whom it serves. Zero durations take the defaults.
type Config struct {
	// Namespace and SecretName locate the Secret holding the CA and the leaf.
	Namespace, SecretName string
	// ServiceName is the webhook Service; the leaf names it in every form the API server uses.
	ServiceName string
	// ValidatingWebhooks and MutatingWebhooks are the configurations whose caBundle is kept.
	ValidatingWebhooks, MutatingWebhooks []string
	// LeafTTL is the leaf's lifetime (default 7 days); it is renewed when a third is left.
	LeafTTL time.Duration
	// CATTL is the CA's lifetime (default 10 years).
	CATTL time.Duration
	// Now is the clock (default time.Now); tests move it to exercise rotation.
	Now func() time.Time
}

// Manager keeps the serving certificate current. It is safe for concurrent use.
type Manager struct {
	cfg      Config
	client   kubernetes.Interface
	log      *slog.Logger
	current  atomic.Pointer[tls.Certificate]
	served   atomic.Pointer[bundle]
	injected atomic.Bool
}

// New returns a Manager; call Sync or Run before serving.
func New(client kubernetes.Interface, cfg Config, log *slog.Logger) *Manager {
	if cfg.LeafTTL == 0 {
		cfg.LeafTTL = 7 * 24 * time.Hour
	}
	if cfg.CATTL == 0 {
		cfg.CATTL = 10 * 365 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg, client: client, log: log}
}

// DNSNames are the names the API server may dial the webhook Service by.
func (m *Manager) DNSNames() []string {
	s, ns := m.cfg.ServiceName, m.cfg.Namespace
	return []string{s + "." + ns + ".svc", s + "." + ns + ".svc.cluster.local", s + "." + ns, s}
}

// GetCertificate serves the current leaf; use it as tls.Config.GetCertificate.
func (m *Manager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := m.current.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("no serving certificate yet")
}

// Ready is nil once a certificate is served and the webhook configurations trust its CA.
func (m *Manager) Ready() error {
	if m.current.Load() == nil {
		return errors.New("no serving certificate yet")
	}
	if !m.injected.Load() {
		return errors.New("the webhook configurations do not trust the serving CA yet")
	}
	return nil
}

// Run syncs now and then every interval until ctx ends. Failures are logged and retried; the
// certificate already served stays in use.
func (m *Manager) Run(ctx context.Context, interval time.Duration) {
	retry := time.Second
	for {
		wait := interval
		if err := m.Sync(ctx); err != nil {
			m.log.Error("serving certificate sync failed", "err", err)
			wait = min(retry, interval)
			retry *= 2
		} else {
			retry = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// Sync makes sure the Secret holds a certificate valid for at least a third of its lifetime,
// serves it, and publishes its CA in the webhook configurations.
func (m *Manager) Sync(ctx context.Context) error {
	b, err := m.ensureSecret(ctx)
	if err != nil {
		return err
	}
	if old := m.served.Load(); old == nil || !old.equal(b) {
		pair, err := tls.X509KeyPair(b.cert, b.key)
		if err != nil {
			return fmt.Errorf("loading the serving certificate: %w", err)
		}
		m.current.Store(&pair)
		m.served.Store(b)
		m.log.Info("serving certificate loaded", "secret", m.cfg.Namespace+"/"+m.cfg.SecretName)
	}
	if err := m.inject(ctx, b.caCert); err != nil {
		m.injected.Store(false)
		return err
	}
	m.injected.Store(true)
	return nil
}

// ensureSecret returns a bundle valid for the renewal window, creating or renewing the Secret.
// Replicas race on it with optimistic concurrency: whoever loses re-reads the winner's bundle.
func (m *Manager) ensureSecret(ctx context.Context) (*bundle, error) {
	secrets := m.client.CoreV1().Secrets(m.cfg.Namespace)
	now := m.cfg.Now()
	renewBefore := m.cfg.LeafTTL / 3
	sec, err := secrets.Get(ctx, m.cfg.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		b, err := m.issue(nil, now)
		if err != nil {
			return nil, err
		}
		sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: m.cfg.SecretName, Namespace: m.cfg.Namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "outrider"}}, Type: corev1.SecretTypeOpaque, Data: b.data()}
		if _, err := secrets.Create(ctx, sec, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
			return m.ensureSecret(ctx)
		} else if err != nil {
			return nil, fmt.Errorf("creating secret %s: %w", m.cfg.SecretName, err)
		}
		m.log.Info("serving certificate issued", "expires", now.Add(m.cfg.LeafTTL))
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading secret %s: %w", m.cfg.SecretName, err)
	}
	b := bundleFrom(sec.Data)
	why := b.validity(m.DNSNames(), now, renewBefore)
	if why == nil {
		return b, nil
	}
	nb, err := m.issue(b, now)
	if err != nil {
		return nil, err
	}
	sec.Data = nb.data()
	if _, err := secrets.Update(ctx, sec, metav1.UpdateOptions{}); apierrors.IsConflict(err) {
		return m.ensureSecret(ctx) // another replica renewed it first
	} else if err != nil {
		return nil, fmt.Errorf("renewing secret %s: %w", m.cfg.SecretName, err)
	}
	m.log.Info("serving certificate renewed", "reason", why.Error(), "expires", now.Add(m.cfg.LeafTTL))
	return nb, nil
}

// issue makes a new leaf, and a new CA when old has none that outlives the new leaf. A
// replaced CA stays in the bundle the webhooks trust until the leaves it signed have expired.
func (m *Manager) issue(old *bundle, now time.Time) (*bundle, error) {
	b := &bundle{}
	if old != nil && old.caValid(now.Add(m.cfg.LeafTTL)) {
		b.caCert, b.caKey = old.caCert, old.caKey
	} else {
		var err error
		if b.caCert, b.caKey, err = newCA("outrider-webhook-ca", now, m.cfg.CATTL); err != nil {
			return nil, fmt.Errorf("issuing the CA: %w", err)
		}
		if old != nil && old.caValid(now) {
			b.caCert = append(b.caCert, old.caCert...)
		}
	}
	var err error
	b.cert, b.key, err = newLeaf(b.caCert, b.caKey, m.DNSNames(), now, m.cfg.LeafTTL)
	if err != nil {
		return nil, fmt.Errorf("issuing the serving certificate: %w", err)
	}
	return b, nil
}

// inject writes caBundle into every webhook of the configured webhook configurations.
func (m *Manager) inject(ctx context.Context, caBundle []byte) error {
	api := m.client.AdmissionregistrationV1()
	for _, name := range m.cfg.ValidatingWebhooks {
		cfg, err := api.ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading ValidatingWebhookConfiguration %s: %w", name, err)
		}
		var clients []*admissionregistrationv1.WebhookClientConfig
		for i := range cfg.Webhooks {
			clients = append(clients, &cfg.Webhooks[i].ClientConfig)
		}
		if setBundle(clients, caBundle) {
			if _, err := api.ValidatingWebhookConfigurations().Update(ctx, cfg, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("updating the caBundle of %s: %w", name, err)
			}
			m.log.Info("webhook caBundle updated", "webhookConfiguration", name)
		}
	}
	for _, name := range m.cfg.MutatingWebhooks {
		cfg, err := api.MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading MutatingWebhookConfiguration %s: %w", name, err)
		}
		var clients []*admissionregistrationv1.WebhookClientConfig
		for i := range cfg.Webhooks {
			clients = append(clients, &cfg.Webhooks[i].ClientConfig)
		}
		if setBundle(clients, caBundle) {
			if _, err := api.MutatingWebhookConfigurations().Update(ctx, cfg, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("updating the caBundle of %s: %w", name, err)
			}
			m.log.Info("webhook caBundle updated", "webhookConfiguration", name)
		}
	}
	return nil
}

// setBundle points every client config at caBundle and reports whether any changed.
func setBundle(clients []*admissionregistrationv1.WebhookClientConfig, caBundle []byte) bool {
	changed := false
	for _, c := range clients {
		if !bytes.Equal(c.CABundle, caBundle) {
			c.CABundle, changed = caBundle, true
		}
	}
	return changed
}
