package castore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/outrider-sec/outrider/internal/identity/ca"
)

// Root rotation is requested by annotating the state Secret (`outrider identity rotate-root`
// does it): AnnotationRotate set to a new request ID prepares a rotation, one starting with
// "abort" aborts a prepared one. The store records the ID it handled in AnnotationRotateHandled
// and the outcome in AnnotationRotateStatus, so each request runs once, on one replica. A
// prepared rotation is committed automatically once the new root has been in the bundle for
// the CA's BundlePropagation.
const (
	AnnotationRotate        = "security.outrider.dev/rotate-root"
	AnnotationRotateHandled = "security.outrider.dev/rotate-root-handled"
	AnnotationRotateStatus  = "security.outrider.dev/rotate-root-status"
)

// Wake-up bounds of the lifecycle loop: at least every maxSleep (a cheap check that also
// catches a missed watch event), and after a failed step not before retryAfter.
const (
	maxSleep   = 10 * time.Minute
	retryAfter = time.Minute
	minSleep   = time.Second
)

// Run watches the state Secret and runs the CA's timers until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	kick := make(chan struct{}, 1)
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(s.cfg.Client, 0,
		informers.WithNamespace(s.cfg.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", s.cfg.StateSecret).String()
		}))
	inf := factory.Core().V1().Secrets().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	lister := factory.Core().V1().Secrets().Lister().Secrets(s.cfg.Namespace)
	for {
		var sec *corev1.Secret
		if inf.HasSynced() {
			sec, _ = lister.Get(s.cfg.StateSecret)
		}
		wait := s.tick(ctx, sec)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// tick adopts sec (the watched Secret, nil when unknown) if another replica wrote it, handles
// a rotation request, renews the intermediate, commits a due rotation and notices bundle
// changes. It returns how long to sleep.
func (s *Store) tick(ctx context.Context, sec *corev1.Secret) time.Duration {
	failed := false
	step := func(what string, err error) {
		if err != nil {
			failed = true
			s.cfg.Log.Error("CA "+what+" failed", "err", err.Error())
		}
	}
	if sec != nil {
		step("reload", s.reload(sec))
		if req := sec.Annotations[AnnotationRotate]; req != "" && req != sec.Annotations[AnnotationRotateHandled] {
			step("rotation request", s.mutate(ctx, "root rotation request", s.handleRequest(ctx)))
		}
	}
	now := s.cfg.CA.Now()
	if c := s.CA(); !now.Before(c.IntermediateRenewalDue()) {
		step("intermediate renewal", s.mutate(ctx, "intermediate renewal", s.renew))
	}
	if at, ok := s.commitDue(); ok && !now.Before(at) {
		step("rotation commit", s.mutate(ctx, "root rotation commit", s.commit))
	}
	s.notifyIfBundleChanged()
	next := s.nextEvent()
	if retry := now.Add(retryAfter); failed && next.Before(retry) {
		next = retry // a step that failed is due again at once: do not spin on it
	}
	return min(max(next.Sub(s.cfg.CA.Now()), minSleep), maxSleep)
}

// nextEvent is the earliest of intermediate renewal, rotation commit and bundle change.
func (s *Store) nextEvent() time.Time {
	c := s.CA()
	next := c.IntermediateRenewalDue()
	if at, ok := s.commitDue(); ok && at.Before(next) {
		next = at
	}
	if at, ok := c.NextBundleChange(); ok && at.Before(next) {
		next = at
	}
	return next
}

func (s *Store) commitDue() (time.Time, bool) {
	c := s.CA()
	at, ok := c.RotationPreparedAt()
	return at.Add(c.BundlePropagation()), ok
}

func (s *Store) renew(c *ca.CA, _ *metav1.ObjectMeta) (bool, error) {
	renewed, err := c.RenewIntermediateIfDue()
	if errors.Is(err, ca.ErrRootKeyUnavailable) {
		return false, fmt.Errorf("%w: the root is cold; sign a new intermediate offline before %s", err, c.Intermediate().NotAfter.UTC().Format(time.RFC3339))
	}
	if renewed {
		s.cfg.Log.Info("intermediate renewed", "notAfter", c.Intermediate().NotAfter, "root", fingerprint(c.Root().Raw))
	}
	return renewed, err
}

func (s *Store) commit(c *ca.CA, meta *metav1.ObjectMeta) (bool, error) {
	old := c.Root()
	err := c.CommitRotation()
	switch {
	case errors.Is(err, ca.ErrNoRotation):
		return false, nil // another replica committed, or someone aborted
	case errors.Is(err, ca.ErrRotationTooEarly):
		return false, nil // a replica with a slower clock will see it soon
	case err != nil:
		return false, err
	}
	s.cfg.Log.Info("root rotation committed", "oldRoot", fingerprint(old.Raw), "newRoot", fingerprint(c.Root().Raw))
	setAnnotation(meta, AnnotationRotateStatus, fmt.Sprintf("committed at %s: root %s signs; root %s stays trusted for the overlap",
		s.cfg.CA.Now().UTC().Format(time.RFC3339), fingerprint(c.Root().Raw), fingerprint(old.Raw)))
	return true, nil
}

// handleRequest prepares or aborts a rotation as the Secret's annotation asks. The outcome,
// success or not, is recorded on the Secret, so a request that cannot succeed is not retried.
func (s *Store) handleRequest(ctx context.Context) op {
	return func(c *ca.CA, meta *metav1.ObjectMeta) (bool, error) {
		req := meta.Annotations[AnnotationRotate]
		if req == "" || req == meta.Annotations[AnnotationRotateHandled] {
			return false, nil
		}
		var status string
		if strings.HasPrefix(req, "abort") {
			status = s.abort(c)
		} else {
			status = s.prepare(ctx, c)
		}
		setAnnotation(meta, AnnotationRotateHandled, req)
		setAnnotation(meta, AnnotationRotateStatus, status)
		return true, nil
	}
}

func (s *Store) prepare(ctx context.Context, c *ca.CA) string {
	now := s.cfg.CA.Now().UTC()
	next, err := s.operatorRoot(ctx)
	if err == nil && next != nil && sameCert(next.Root.Raw, c.Root().Raw) {
		next = nil // the root Secret still holds the active root: generate the next one
	}
	if err == nil {
		err = c.PrepareRotation(next)
	}
	if err != nil {
		s.cfg.Log.Error("root rotation not prepared", "err", err.Error())
		return "failed at " + now.Format(time.RFC3339) + ": " + err.Error()
	}
	commit := now.Add(c.BundlePropagation())
	s.cfg.Log.Info("root rotation prepared", "operatorRoot", next != nil, "commitAfter", commit)
	return fmt.Sprintf("prepared at %s: both roots are trusted; commit at %s", now.Format(time.RFC3339), commit.Format(time.RFC3339))
}

func (s *Store) abort(c *ca.CA) string {
	now := s.cfg.CA.Now().UTC().Format(time.RFC3339)
	if err := c.AbortRotation(); err != nil {
		return "abort failed at " + now + ": " + err.Error()
	}
	s.cfg.Log.Info("root rotation aborted")
	return "aborted at " + now
}

func setAnnotation(meta *metav1.ObjectMeta, k, v string) {
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	meta.Annotations[k] = v
}
