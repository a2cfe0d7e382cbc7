package castore

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/outrider-sec/outrider/internal/identity/ca"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// secretAPI is an API server for Secrets that enforces resourceVersions as the real one does
// (the client-go fake does not), so concurrent writers really conflict.
type secretAPI struct {
	*fake.Clientset
	mu        sync.Mutex
	rv        int
	secrets   map[string]*corev1.Secret
	conflicts int // the next n updates fail with a conflict, as if another replica wrote first
	updates   int
}

var secretsGR = schema.GroupResource{Resource: "secrets"}

func newSecretAPI() *secretAPI {
	api := &secretAPI{Clientset: fake.NewClientset(), secrets: map[string]*corev1.Secret{}}
	api.PrependReactor("*", "secrets", api.react)
	return api
}

func (a *secretAPI) react(action k8stesting.Action) (bool, runtime.Object, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch action.GetVerb() {
	case "get":
		name := action.(k8stesting.GetAction).GetName()
		s, ok := a.secrets[name]
		if !ok {
			return true, nil, apierrors.NewNotFound(secretsGR, name)
		}
		return true, s.DeepCopy(), nil
	case "create":
		s := action.(k8stesting.CreateAction).GetObject().(*corev1.Secret).DeepCopy()
		if _, ok := a.secrets[s.Name]; ok {
			return true, nil, apierrors.NewAlreadyExists(secretsGR, s.Name)
		}
		a.rv++
		s.ResourceVersion = strconv.Itoa(a.rv)
		a.secrets[s.Name] = s
		return true, s.DeepCopy(), nil
	case "update":
		s := action.(k8stesting.UpdateAction).GetObject().(*corev1.Secret).DeepCopy()
		old, ok := a.secrets[s.Name]
		if !ok {
			return true, nil, apierrors.NewNotFound(secretsGR, s.Name)
		}
		if a.conflicts > 0 || s.ResourceVersion != old.ResourceVersion {
			a.conflicts = max(a.conflicts-1, 0)
			return true, nil, apierrors.NewConflict(secretsGR, s.Name, nil)
		}
		a.updates++
		a.rv++
		s.ResourceVersion = strconv.Itoa(a.rv)
		a.secrets[s.Name] = s
		return true, s.DeepCopy(), nil
	}
	return false, nil, nil
}

// get returns the stored Secret.
func (a *secretAPI) get(name string) *corev1.Secret {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.secrets[name]; s != nil {
		return s.DeepCopy()
	}
	return nil
}

// annotate sets an annotation as an operator would (kubectl annotate).
func (a *secretAPI) annotate(t *testing.T, name, k, v string) {
	t.Helper()
	s := a.get(name)
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[k] = v
	if _, err := a.CoreV1().Secrets("outrider").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// replica opens a store on api as one replica of the service would, counting OnChange calls.
type replica struct {
	*Store
	changes int
}

func openReplica(t *testing.T, api *secretAPI, clk *clock, mutate func(*Config)) *replica {
	t.Helper()
	r := &replica{}
	cfg := Config{
		Client: api, Namespace: "outrider",
		CA: ca.Config{
			Now: clk.Now, MaxTTL: time.Hour, IntermediateTTL: 4 * time.Hour,
			BundlePropagation: 10 * time.Minute, RotationOverlap: 2 * time.Hour,
		},
		OnChange: func(*ca.CA) { r.changes++ },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	r.Store = s
	return r
}

// tick runs one lifecycle step with the Secret as the watch would deliver it.
func (r *replica) tick(api *secretAPI) time.Duration {
	return r.Store.tick(context.Background(), api.get(r.cfg.StateSecret))
}

func roots(c *ca.CA) int { return len(c.Bundle().X509Authorities()) }
