// Package identitytest runs a complete identity service in-process for tests, like httptest:
// real gRPC over TLS on loopback, the real CA, TokenReview authenticator, push hub and
// informers, on a fake API server whose TokenReview endpoint answers for tokens the test mints
// (bound to pods it creates, with an audience and an expiry).
package identitytest

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/identity/push"
	"github.com/outrider-sec/outrider/internal/identity/server"
)

// Namespace and ServiceAccount the service runs as.
const (
	Namespace      = "outrider-system"
	ServiceAccount = "outrider-identity"
	Audience       = "outrider-identity"
)

// Harness is a running identity service.
type Harness struct {
	Addr     string
	Kube     *fake.Clientset
	Dynamic  *dynamicfake.FakeDynamicClient
	Server   *server.Server
	ServerID spiffeid.ID
	// Logs holds the service's JSON log; it is printed when the test fails.
	Logs *Logs

	mu     sync.Mutex
	tokens map[string]token
}

type token struct {
	pod      *corev1.Pod
	audience string
	exp      time.Time
}

// Start runs a service until the test ends. mutate may adjust the options (TTLs, rotation).
func Start(t testing.TB, mutate func(*server.Options)) *Harness {
	t.Helper()
	h := &Harness{tokens: map[string]token{}}
	h.Kube = fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}})
	h.Kube.PrependReactor("create", "tokenreviews", h.review)
	h.Kube.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{
		GroupVersion: v1alpha1.GroupVersion.String(),
		APIResources: []metav1.APIResource{{Name: "accesspolicies", Namespaced: true, Kind: "AccessPolicy"}},
	}}
	h.Dynamic = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{v1alpha1.GroupVersion.WithResource("accesspolicies"): "AccessPolicyList"})
	// The fakes lose objects created between an informer's list and its watch; serve the watches
	// ourselves and wait for them below, so a test's objects created after Start are seen.
	watching := make(chan string, 64)
	watchVia := func(tracker k8stesting.ObjectTracker) k8stesting.WatchReactionFunc {
		return func(a k8stesting.Action) (bool, watch.Interface, error) {
			w, err := tracker.Watch(a.GetResource(), a.GetNamespace())
			watching <- a.GetResource().Resource
			return true, w, err
		}
	}
	h.Kube.PrependWatchReactor("*", watchVia(h.Kube.Tracker()))
	h.Dynamic.PrependWatchReactor("*", watchVia(h.Dynamic.Tracker()))
	opts := server.Options{Namespace: Namespace, ServiceAccount: ServiceAccount, HTTPAddr: "0"}
	if mutate != nil {
		mutate(&opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.Logs = &Logs{}
	log := slog.New(slog.NewJSONHandler(h.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(ctx, server.Clients{Kube: h.Kube, Dynamic: h.Dynamic}, opts, log)
	if err != nil {
		cancel()
		t.Fatalf("starting the identity service: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("identity service: %v", err)
		}
		if t.Failed() {
			t.Logf("identity service log:\n%s", h.Logs.String())
		}
	})
	waitWatches(t, watching, "pods", "namespaces", "accesspolicies", "configmaps", "secrets")
	h.Addr, h.Server = lis.Addr().String(), srv
	h.ServerID = spiffeid.RequireFromSegments(srv.CA().TrustDomain(), "ns", Namespace, "sa", ServiceAccount)
	return h
}

// waitWatches waits until the service watches every resource named.
func waitWatches(t testing.TB, watching <-chan string, resources ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, r := range resources {
		want[r] = true
	}
	timeout := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case r := <-watching:
			delete(want, r)
		case <-timeout:
			t.Fatalf("the identity service does not watch %v", want)
		}
	}
	go func() {
		for range watching { // later watches (informer restarts) must not block
		}
	}()
}

// Bundle returns the service's trust bundle now.
func (h *Harness) Bundle() *x509bundle.Bundle { return h.Server.CA().Bundle() }

// BundlePEM returns the trust bundle as the bootstrap ConfigMap holds it.
func (h *Harness) BundlePEM() []byte {
	var out []byte
	for _, r := range h.Bundle().X509Authorities() {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Raw})...)
	}
	return out
}

// Dial connects to the service, verifying its certificate against the bundle and its ID.
func (h *Harness) Dial(t testing.TB) *grpc.ClientConn {
	t.Helper()
	cfg := tlsconfig.TLSClientConfig(h.Bundle(), tlsconfig.AuthorizeID(h.ServerID))
	conn, err := grpc.NewClient("passthrough:///"+h.Addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Namespace creates a namespace, labelled into the mesh when meshed.
func (h *Harness) Namespace(t testing.TB, name string, meshed bool) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if meshed {
		ns.Labels = map[string]string{"security.outrider.dev/mesh": "enabled"}
	}
	if _, err := h.Kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Pod creates a running pod with an address and, as the injector would add it, the proxy.
func (h *Harness) Pod(t testing.TB, ns, name, sa, ip string, labels map[string]string) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(fmt.Sprintf("uid-%s-%d", name, time.Now().UnixNano())), Labels: labels},
		Spec:       corev1.PodSpec{ServiceAccountName: sa, InitContainers: []corev1.Container{{Name: "outrider-proxy"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
	}
	out, err := h.Kube.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Token mints a token bound to pod for audience, valid until exp, as TokenRequest would.
func (h *Harness) Token(pod *corev1.Pod, audience string, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload := fmt.Sprintf(`{"aud":[%q],"exp":%d,"sub":"system:serviceaccount:%s:%s","n":%d}`, audience, exp.Unix(), pod.Namespace, pod.Spec.ServiceAccountName, time.Now().UnixNano())
	tok := enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + ".sig"
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tokens[tok] = token{pod: pod, audience: audience, exp: exp}
	return tok
}

// review answers a TokenReview as the API server does for bound ServiceAccount tokens: the
// token must be known, unexpired, for a requested audience, and its pod must still exist.
func (h *Harness) review(a k8stesting.Action) (bool, runtime.Object, error) {
	tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview).DeepCopy()
	h.mu.Lock()
	tok, ok := h.tokens[tr.Spec.Token]
	h.mu.Unlock()
	switch {
	case !ok:
		tr.Status.Error = "invalid bearer token"
	case time.Now().After(tok.exp):
		tr.Status.Error = "token has expired"
	case !slices.Contains(tr.Spec.Audiences, tok.audience):
		tr.Status.Error = "token audiences don't match"
	default:
		p, err := h.Kube.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), tok.pod.Namespace, tok.pod.Name)
		if err != nil || p.(*corev1.Pod).UID != tok.pod.UID {
			tr.Status.Error = "pod does not exist"
			break
		}
		tr.Status = authnv1.TokenReviewStatus{Authenticated: true, Audiences: []string{tok.audience}, User: authnv1.UserInfo{
			Username: "system:serviceaccount:" + tok.pod.Namespace + ":" + tok.pod.Spec.ServiceAccountName,
			Extra: map[string]authnv1.ExtraValue{
				"authentication.kubernetes.io/pod-name": {tok.pod.Name},
				"authentication.kubernetes.io/pod-uid":  {string(tok.pod.UID)},
			},
		}}
	}
	return true, tr, nil
}

// BootstrapConfigMap returns the bundle ConfigMap the service published in ns, if any.
func (h *Harness) BootstrapConfigMap(ns string) (*corev1.ConfigMap, error) {
	return h.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), push.BundleConfigMap, metav1.GetOptions{})
}

// Logs collects log lines; safe for concurrent use.
type Logs struct {
	mu  sync.Mutex
	buf []byte
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	return len(p), nil
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}
