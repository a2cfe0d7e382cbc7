package push

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/outrider-sec/outrider/api/v1alpha1"
)

var td = spiffeid.RequireTrustDomainFromString("cluster.local")

// fakeSource is an in-memory cluster the tests edit.
type fakeSource struct {
	mu       sync.Mutex
	nss      map[string]*corev1.Namespace
	pods     map[string]*corev1.Pod
	policies []v1alpha1.AccessPolicy
}

func newFakeSource() *fakeSource {
	return &fakeSource{nss: map[string]*corev1.Namespace{}, pods: map[string]*corev1.Pod{}}
}

func (f *fakeSource) Namespaces() []*corev1.Namespace {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*corev1.Namespace
	for _, n := range f.nss {
		out = append(out, n)
	}
	return out
}

func (f *fakeSource) Pods() []*corev1.Pod {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*corev1.Pod
	for _, p := range f.pods {
		out = append(out, p)
	}
	return out
}

func (f *fakeSource) AccessPolicies() []v1alpha1.AccessPolicy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]v1alpha1.AccessPolicy(nil), f.policies...)
}

func (f *fakeSource) addNamespace(name string, meshed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if meshed {
		ns.Labels = map[string]string{"security.outrider.dev/mesh": "enabled"}
	}
	f.nss[name] = ns
}

func (f *fakeSource) addPod(p *corev1.Pod) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pods[p.Namespace+"/"+p.Name] = p
}

func (f *fakeSource) deletePod(ns, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pods, ns+"/"+name)
}

func (f *fakeSource) setPolicies(ps ...v1alpha1.AccessPolicy) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policies = ps
}

func testPod(ns, name, sa, ip string, kv ...string) *corev1.Pod {
	l := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Labels: l},
		// Injected: the proxy runs beside the application as a native sidecar.
		Spec:   corev1.PodSpec{ServiceAccountName: sa, InitContainers: []corev1.Container{{Name: "outrider-proxy"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if ip != "" {
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	return p
}

// accessPolicy builds an AccessPolicy from the YAML of its spec.
func accessPolicy(t testing.TB, ns, name, spec string) v1alpha1.AccessPolicy {
	t.Helper()
	doc := "apiVersion: security.outrider.dev/v1alpha1\nkind: AccessPolicy\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec: " + spec + "\n"
	var p v1alpha1.AccessPolicy
	if err := yaml.UnmarshalStrict([]byte(doc), &p); err != nil {
		t.Fatalf("policy %s/%s: %v", ns, name, err)
	}
	return p
}

// testBundle is a switchable trust bundle.
type testBundle struct {
	mu sync.Mutex
	b  *x509bundle.Bundle
}

func newTestBundle(t testing.TB, roots int) *testBundle {
	tb := &testBundle{}
	tb.set(t, roots)
	return tb
}

func (tb *testBundle) set(t testing.TB, roots int) {
	var certs []*x509.Certificate
	for range roots {
		certs = append(certs, selfSigned(t))
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.b = x509bundle.FromX509Authorities(td, certs)
}

func (tb *testBundle) get() *x509bundle.Bundle {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.b
}

func selfSigned(t testing.TB) *x509.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// startHub runs a hub on src until the test ends.
func startHub(t *testing.T, src *fakeSource, bundle *testBundle) *Hub {
	t.Helper()
	h, err := NewHub(Config{TrustDomain: td, Source: src, Bundle: bundle.get, Debounce: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// next waits briefly for an update.
func next(t *testing.T, s *Subscription) (Update, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.Next(ctx)
}

// none asserts that no update arrives within a short while.
func none(t *testing.T, s *Subscription) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if u, err := s.Next(ctx); err == nil {
		t.Fatalf("unexpected update: bundle %v, policy %s, endpoints %v (%v)", u.Bundle != nil, u.Policy, u.Endpoints, u.HasEndpoints)
	}
}
