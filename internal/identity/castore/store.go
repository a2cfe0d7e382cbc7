package castore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/outrider-sec/outrider/internal/identity/ca"
)

// Names in the state Secret and in the operator's root Secret.
const (
	// DefaultStateSecret holds the CA state (ca.Marshal) under StateKey.
	DefaultStateSecret = "outrider-identity-ca"
	StateKey           = "ca.pem"

	// Keys of the optional root Secret, all PEM: the root certificate (required), its key
	// (omit it for a cold root), and an intermediate certificate and key signed offline.
	RootCertKey         = "root.crt"
	RootKeyKey          = "root.key"
	IntermediateCertKey = "intermediate.crt"
	IntermediateKeyKey  = "intermediate.key"
)

// maxAttempts bounds the retries of one change that keeps losing races to other replicas.
const maxAttempts = 5

// Config configures a Store. Client and Namespace are required.
type Config struct {
	Client    kubernetes.Interface
	Namespace string
	// StateSecret is the Secret the CA state lives in. Default "outrider-identity-ca".
	StateSecret string
	// RootSecret optionally names a Secret with an operator-supplied root (RootCertKey, …). It
	// is read when the state Secret is created, and when a rotation is requested: a root in it
	// that differs from the active one becomes the next root. Empty: roots are generated.
	RootSecret string
	// CA holds lifetimes, trust domain and clock; CA.Authority must be nil.
	CA ca.Config
	// Log receives the store's logs. Default: discard.
	Log *slog.Logger
	// OnChange is called, never concurrently, after the CA this replica uses changed: loaded
	// from a Secret another replica wrote, intermediate renewed, rotation prepared, committed
	// or aborted, or a replaced root left the bundle.
	OnChange func(*ca.CA)
}

// Store holds the CA, persisted in the state Secret.
type Store struct {
	cfg Config
	cur atomic.Pointer[ca.CA]

	mu         sync.Mutex // serialises changes, reloads and OnChange
	rv         string     // resourceVersion of the Secret cur was loaded from or written to
	lastBundle [sha256.Size]byte
}

// Open loads the CA from the state Secret, creating the Secret when it does not exist yet.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Client == nil || cfg.Namespace == "" {
		return nil, errors.New("castore: Client and Namespace are required")
	}
	if cfg.CA.Authority != nil {
		return nil, errors.New("castore: the authority comes from the Secrets, not from CA.Authority")
	}
	if cfg.StateSecret == "" {
		cfg.StateSecret = DefaultStateSecret
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func(*ca.CA) {}
	}
	s := &Store{cfg: cfg}
	sec, err := s.getOrCreate(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.load(sec)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.adoptLocked(c, sec.ResourceVersion)
	return s, nil
}

// CA returns the CA to issue with now.
func (s *Store) CA() *ca.CA { return s.cur.Load() }

func (s *Store) secrets() secretsClient {
	return s.cfg.Client.CoreV1().Secrets(s.cfg.Namespace)
}

type secretsClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Secret, error)
	Create(ctx context.Context, s *corev1.Secret, opts metav1.CreateOptions) (*corev1.Secret, error)
	Update(ctx context.Context, s *corev1.Secret, opts metav1.UpdateOptions) (*corev1.Secret, error)
}

// getOrCreate returns the state Secret, creating it with a new CA if it is missing. When two
// replicas create at once, one wins and the other reads the winner's.
func (s *Store) getOrCreate(ctx context.Context) (*corev1.Secret, error) {
	sec, err := s.secrets().Get(ctx, s.cfg.StateSecret, metav1.GetOptions{})
	if err == nil {
		return sec, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading CA Secret %s/%s: %w", s.cfg.Namespace, s.cfg.StateSecret, err)
	}
	auth, err := s.operatorRoot(ctx)
	if err != nil {
		return nil, err
	}
	cfg := s.cfg.CA
	cfg.Authority = auth
	c, err := ca.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the CA: %w", err)
	}
	data, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	sec = &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.cfg.StateSecret, Namespace: s.cfg.Namespace,
			Labels: map[string]string{"app.kubernetes.io/part-of": "outrider", "app.kubernetes.io/component": "identity"},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{StateKey: data},
	}
	created, err := s.secrets().Create(ctx, sec, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return s.secrets().Get(ctx, s.cfg.StateSecret, metav1.GetOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("creating CA Secret %s/%s: %w", s.cfg.Namespace, s.cfg.StateSecret, err)
	}
	s.cfg.Log.Info("CA created", "secret", s.cfg.StateSecret, "trustDomain", c.TrustDomain().Name(),
		"operatorRoot", auth != nil, "root", fingerprint(c.Root().Raw))
	return created, nil
}

// operatorRoot reads the root Secret; nil when none is configured or it does not exist.
func (s *Store) operatorRoot(ctx context.Context) (*ca.Authority, error) {
	if s.cfg.RootSecret == "" {
		return nil, nil
	}
	sec, err := s.secrets().Get(ctx, s.cfg.RootSecret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		s.cfg.Log.Info("root Secret not found; generating a root", "secret", s.cfg.RootSecret)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading root Secret %s/%s: %w", s.cfg.Namespace, s.cfg.RootSecret, err)
	}
	d := sec.Data
	auth, err := ca.ParseAuthority(d[RootCertKey], d[RootKeyKey], d[IntermediateCertKey], d[IntermediateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("root Secret %s/%s: %w", s.cfg.Namespace, s.cfg.RootSecret, err)
	}
	return auth, nil
}

func (s *Store) load(sec *corev1.Secret) (*ca.CA, error) {
	c, err := ca.Load(s.cfg.CA, sec.Data[StateKey])
	if err != nil {
		return nil, fmt.Errorf("loading CA Secret %s/%s: %w", s.cfg.Namespace, s.cfg.StateSecret, err)
	}
	return c, nil
}

// adoptLocked makes c current and calls OnChange. s.mu is held.
func (s *Store) adoptLocked(c *ca.CA, rv string) {
	s.rv = rv
	s.cur.Store(c)
	s.lastBundle = bundleHash(c)
	s.cfg.OnChange(c)
}

// op changes a CA loaded from the Secret, and may edit the Secret's annotations. It reports
// whether it changed anything that must be written.
type op func(c *ca.CA, meta *metav1.ObjectMeta) (changed bool, err error)

// mutate applies f to the CA as the Secret holds it now and writes the result with the
// Secret's resourceVersion, retrying from a fresh read when another replica wrote first.
func (s *Store) mutate(ctx context.Context, what string, f op) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 1; ; attempt++ {
		sec, err := s.secrets().Get(ctx, s.cfg.StateSecret, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("%s: reading CA Secret: %w", what, err)
		}
		c, err := s.load(sec)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		changed, err := f(c, &sec.ObjectMeta)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if !changed {
			if sec.ResourceVersion != s.rv {
				s.adoptLocked(c, sec.ResourceVersion)
			}
			return nil
		}
		if sec.Data[StateKey], err = c.Marshal(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		updated, err := s.secrets().Update(ctx, sec, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) && attempt < maxAttempts {
			continue // another replica wrote first: redo from its state
		}
		if err != nil {
			return fmt.Errorf("%s: writing CA Secret: %w", what, err)
		}
		s.adoptLocked(c, updated.ResourceVersion)
		return nil
	}
}

// reload adopts the Secret's state if another replica changed it.
func (s *Store) reload(sec *corev1.Secret) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec.ResourceVersion == s.rv {
		return nil
	}
	c, err := s.load(sec)
	if err != nil {
		return err
	}
	s.cfg.Log.Info("CA reloaded", "resourceVersion", sec.ResourceVersion, "root", fingerprint(c.Root().Raw))
	s.adoptLocked(c, sec.ResourceVersion)
	return nil
}

// notifyIfBundleChanged calls OnChange when the bundle changed by itself (a replaced root's
// overlap ended).
func (s *Store) notifyIfBundleChanged() {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur.Load()
	if h := bundleHash(c); h != s.lastBundle {
		s.lastBundle = h
		s.cfg.Log.Info("trust bundle changed", "roots", len(c.Bundle().X509Authorities()))
		s.cfg.OnChange(c)
	}
}

func bundleHash(c *ca.CA) [sha256.Size]byte {
	h := sha256.New()
	for _, r := range c.Bundle().X509Authorities() {
		h.Write(r.Raw)
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// fingerprint names a certificate in logs: the first 8 bytes of its SHA-256, hex.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return fmt.Sprintf("%x", sum[:8])
}

// sameCert reports whether two DER certificates are the same.
func sameCert(a, b []byte) bool { return bytes.Equal(a, b) }
