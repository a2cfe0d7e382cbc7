package push

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	corev1 "k8s.io/api/core/v1"
)

func TestFirstUpdateIsTheFullState(t *testing.T) {
	src, bundle := newFakeSource(), newTestBundle(t, 1)
	src.addNamespace("shop", true)
	src.addPod(testPod("shop", "backend-1", "backend", "10.88.0.5", "app", "backend"))
	src.addPod(testPod("shop", "frontend-1", "frontend", "10.88.0.6", "app", "frontend"))
	h := startHub(t, src, bundle)
	s := h.Subscribe(context.Background(), testPod("shop", "backend-1", "backend", "10.88.0.5", "app", "backend"))
	defer s.Close()
	u, err := next(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if u.Bundle == nil || len(u.Bundle.X509Authorities()) != 1 {
		t.Errorf("bundle %v", u.Bundle)
	}
	if string(u.Policy) != `{}` {
		t.Errorf("policy of an unselected workload = %s, want {}", u.Policy)
	}
	want := []Endpoint{
		{netip.MustParseAddr("10.88.0.5"), spiffeid.RequireFromString("spiffe://cluster.local/ns/shop/sa/backend")},
		{netip.MustParseAddr("10.88.0.6"), spiffeid.RequireFromString("spiffe://cluster.local/ns/shop/sa/frontend")},
	}
	if diff := cmp.Diff(want, u.Endpoints, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b spiffeid.ID) bool { return a == b })); !u.HasEndpoints || diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
}

// TestOnlyWhatChangedIsPushed: a policy change reaches the workloads it selects and no other;
// a new endpoint reaches everyone; a bundle change reaches everyone.
func TestOnlyWhatChangedIsPushed(t *testing.T) {
	src, bundle := newFakeSource(), newTestBundle(t, 1)
	src.addNamespace("shop", true)
	src.addNamespace("jobs", true)
	backend := testPod("shop", "backend-1", "backend", "10.88.0.5", "app", "backend")
	batch := testPod("jobs", "batch-1", "batch", "10.88.0.7", "app", "batch")
	src.addPod(backend)
	src.addPod(batch)
	h := startHub(t, src, bundle)
	sb := h.Subscribe(context.Background(), backend)
	sj := h.Subscribe(context.Background(), batch)
	defer sb.Close()
	defer sj.Close()
	next(t, sb)
	next(t, sj)

	src.setPolicies(accessPolicy(t, "shop", "be", `{selector: {matchLabels: {app: backend}}, ingress: [{from: [{serviceAccounts: [frontend]}], ports: [{port: 8080}]}]}`))
	h.Changed()
	u, err := next(t, sb)
	if err != nil {
		t.Fatal(err)
	}
	if u.Bundle != nil || u.HasEndpoints || !strings.Contains(string(u.Policy), `"principals":["spiffe://cluster.local/ns/shop/sa/frontend"]`) {
		t.Errorf("backend got bundle=%v endpoints=%v policy=%s; want the new policy only", u.Bundle != nil, u.HasEndpoints, u.Policy)
	}
	none(t, sj)

	src.addPod(testPod("shop", "frontend-1", "frontend", "10.88.0.6", "app", "frontend"))
	h.Changed()
	for _, s := range []*Subscription{sb, sj} {
		u, err := next(t, s)
		if err != nil {
			t.Fatal(err)
		}
		if !u.HasEndpoints || len(u.Endpoints) != 3 || u.Policy != nil || u.Bundle != nil {
			t.Errorf("%s: endpoints %v (%v), policy %s; want the three endpoints only", s.Key(), u.Endpoints, u.HasEndpoints, u.Policy)
		}
	}

	bundle.set(t, 2)
	h.Changed()
	for _, s := range []*Subscription{sb, sj} {
		u, err := next(t, s)
		if err != nil || u.Bundle == nil || len(u.Bundle.X509Authorities()) != 2 || u.Policy != nil || u.HasEndpoints {
			t.Errorf("%s: %v, bundle %v; want the two-root bundle only", s.Key(), err, u.Bundle)
		}
	}
}

func TestSubscriptionEndsWhenItsPodGoes(t *testing.T) {
	src, bundle := newFakeSource(), newTestBundle(t, 1)
	src.addNamespace("shop", true)
	p := testPod("shop", "backend-1", "backend", "10.88.0.5")
	src.addPod(p)
	h := startHub(t, src, bundle)
	s := h.Subscribe(context.Background(), p)
	next(t, s)
	src.deletePod("shop", "backend-1")
	h.Changed()
	if _, err := next(t, s); !errors.Is(err, ErrPodGone) {
		t.Fatalf("Next after the pod was deleted = %v, want ErrPodGone", err)
	}
	if n := h.Subscribers(); n != 0 {
		t.Errorf("%d subscribers left", n)
	}
}

// TestNewPodNotYetCached: a proxy may subscribe before the pod cache has its pod; it gets a
// policy computed with its pod all the same, and is not mistaken for a deleted pod.
func TestNewPodNotYetCached(t *testing.T) {
	src, bundle := newFakeSource(), newTestBundle(t, 1)
	src.addNamespace("shop", true)
	src.setPolicies(accessPolicy(t, "shop", "be", `{selector: {matchLabels: {app: backend}}}`))
	h := startHub(t, src, bundle)
	s := h.Subscribe(context.Background(), testPod("shop", "backend-1", "backend", "", "app", "backend"))
	defer s.Close()
	u, err := next(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if string(u.Policy) != `{"defaultDeny":true}` {
		t.Errorf("policy %s, want the selecting policy's deny-all", u.Policy)
	}
	h.Changed()
	none(t, s)
}

// TestSlowSubscriberGetsTheLatest: updates queued while a subscriber is not reading are merged;
// it reads the newest state once, and nobody waited for it.
func TestSlowSubscriberGetsTheLatest(t *testing.T) {
	src, bundle := newFakeSource(), newTestBundle(t, 1)
	src.addNamespace("shop", true)
	p := testPod("shop", "backend-1", "backend", "10.88.0.5", "app", "backend")
	src.addPod(p)
	h := startHub(t, src, bundle)
	s := h.Subscribe(context.Background(), p)
	defer s.Close()
	for i := range 5 {
		src.addPod(testPod("shop", "peer-"+string(rune('a'+i)), "peer", "10.88.1."+string(rune('1'+i))))
		h.compute(context.Background())
	}
	u, err := next(t, s)
	if err != nil || len(u.Endpoints) != 6 || u.Bundle == nil || u.Policy == nil {
		t.Fatalf("merged update: %v, %d endpoints, bundle %v, policy %s", err, len(u.Endpoints), u.Bundle != nil, u.Policy)
	}
	none(t, s)
}

// TestEndpointsAreMeshedPodsWithAProxy: a pod the injector would mesh but that runs no proxy
// (created while injection was off) is a workload for the policies, but not an endpoint.
func TestEndpointsAreMeshedPodsWithAProxy(t *testing.T) {
	src := newFakeSource()
	src.addNamespace("shop", true)
	bare := testPod("shop", "bare", "a", "10.88.0.20")
	bare.Spec.InitContainers = nil
	w, eps := buildWorld(td, src.Namespaces(), []*corev1.Pod{bare, testPod("shop", "proxied", "b", "10.88.0.21")}, nil)
	if len(w.Workloads) != 2 || len(eps) != 1 || eps[0].IP.String() != "10.88.0.21" {
		t.Errorf("workloads %v, endpoints %v; want both workloads and only the proxied endpoint", w.Workloads, eps)
	}
	if trimmed, _ := trimPod(bare); hasProxy(trimmed.(*corev1.Pod)) {
		t.Error("trimming a pod without a proxy gives it one")
	}
	if trimmed, _ := trimPod(testPod("shop", "p", "b", "10.88.0.22")); !hasProxy(trimmed.(*corev1.Pod)) {
		t.Error("trimming a proxied pod loses the proxy")
	}
}

func TestEndpointsDropAmbiguousAddresses(t *testing.T) {
	src := newFakeSource()
	src.addNamespace("shop", true)
	src.addNamespace("plain", false)
	old := testPod("shop", "old", "a", "10.88.0.9")
	old.Status.Phase = "Running"
	_, eps := buildWorld(td, src.Namespaces(), []*corev1.Pod{
		old, testPod("shop", "new", "b", "10.88.0.9"), // two live pods claim one address
		testPod("shop", "ok", "c", "10.88.0.10"),
		testPod("plain", "unmeshed", "d", "10.88.0.11"),
	}, nil)
	if len(eps) != 1 || eps[0].IP.String() != "10.88.0.10" {
		t.Errorf("endpoints %v, want only the unambiguous meshed address", eps)
	}
}
