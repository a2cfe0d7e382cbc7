package server_test

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/identity/castore"
	pb "github.com/outrider-sec/outrider/internal/identity/identitypb"
	"github.com/outrider-sec/outrider/internal/identity/identitytest"
	"github.com/outrider-sec/outrider/internal/identity/server"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// watcher reads a Watch stream in the background.
type watcher struct {
	msgs chan *pb.WatchResponse
	errs chan error
}

func watch(t *testing.T, h *identitytest.Harness, token string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := pb.NewIdentityClient(h.Dial(t)).Watch(ctx, &pb.WatchRequest{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{msgs: make(chan *pb.WatchResponse, 64), errs: make(chan error, 1)}
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				w.errs <- err
				return
			}
			w.msgs <- m
		}
	}()
	return w
}

// next returns the next message, failing the test after timeout.
func (w *watcher) next(t *testing.T, timeout time.Duration) *pb.WatchResponse {
	t.Helper()
	select {
	case m := <-w.msgs:
		return m
	case err := <-w.errs:
		t.Fatalf("the stream ended: %v", err)
	case <-time.After(timeout):
		t.Fatalf("no message within %v", timeout)
	}
	return nil
}

// end returns the error the stream ends with.
func (w *watcher) end(t *testing.T, timeout time.Duration) error {
	t.Helper()
	for {
		select {
		case <-w.msgs:
		case err := <-w.errs:
			return err
		case <-time.After(timeout):
			t.Fatalf("the stream did not end within %v", timeout)
		}
	}
}

func TestWatchFirstMessageIsTheFullState(t *testing.T) {
	h := identitytest.Start(t, shortTTL)
	h.Namespace(t, "shop", true)
	pod := h.Pod(t, "shop", "payments-1", "payments", "10.88.0.5", nil)
	h.Pod(t, "shop", "web-1", "web", "10.88.0.6", nil)
	w := watch(t, h, h.Token(pod, identitytest.Audience, time.Now().Add(10*time.Minute)))
	m := w.next(t, 5*time.Second)
	if m.TrustBundle == nil || len(m.TrustBundle.Roots) != 1 || m.Policy == nil || m.Endpoints == nil {
		t.Fatalf("first message %v, want bundle, policy and endpoints", m)
	}
	if _, err := authz.Parse(m.Policy.Json); err != nil {
		t.Errorf("the policy does not parse: %v", err)
	}
	// The pods were created a moment ago: the first message may predate the cache's view of
	// the second, which then follows at once.
	for len(m.Endpoints.Endpoints) < 2 {
		if m = w.next(t, 2*time.Second); m.Endpoints == nil {
			t.Fatalf("a second message without endpoints: %v", m)
		}
	}
	var eps []string
	for _, e := range m.Endpoints.Endpoints {
		eps = append(eps, e.Ip+"="+e.SpiffeId)
	}
	if got := strings.Join(eps, " "); got != "10.88.0.5=spiffe://cluster.local/ns/shop/sa/payments 10.88.0.6=spiffe://cluster.local/ns/shop/sa/web" {
		t.Errorf("endpoints %s", got)
	}
	cm, err := h.BootstrapConfigMap("shop")
	if err != nil || !strings.Contains(cm.Data["bundle.pem"], "BEGIN CERTIFICATE") {
		t.Errorf("bootstrap bundle ConfigMap in shop: %v %v", cm, err)
	}
}

// TestPolicyPushLatency measures how long an AccessPolicy change and a new meshed pod take
// from the API to a subscribed proxy (the requirement is 2 s).
func TestPolicyPushLatency(t *testing.T) {
	h := identitytest.Start(t, shortTTL)
	h.Namespace(t, "shop", true)
	backend := h.Pod(t, "shop", "backend-1", "backend", "10.88.0.5", map[string]string{"app": "backend"})
	w := watch(t, h, h.Token(backend, identitytest.Audience, time.Now().Add(10*time.Minute)))
	w.next(t, 5*time.Second)

	ap := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": "AccessPolicy",
		"metadata": map[string]any{"name": "backend", "namespace": "shop"},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "backend"}},
			"ingress":  []any{map[string]any{"from": []any{map[string]any{"serviceAccounts": []any{"frontend"}}}}},
		},
	}}
	start := time.Now()
	if _, err := h.Dynamic.Resource(v1alpha1.GroupVersion.WithResource("accesspolicies")).Namespace("shop").Create(context.Background(), ap, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	m := w.next(t, 2*time.Second)
	policyLatency := time.Since(start)
	if m.Policy == nil || m.TrustBundle != nil || m.Endpoints != nil || !strings.Contains(string(m.Policy.Json), "ns/shop/sa/frontend") {
		t.Fatalf("after the policy change: %v; want the new policy only", m)
	}

	start = time.Now()
	h.Pod(t, "shop", "frontend-1", "frontend", "10.88.0.9", nil)
	m = w.next(t, 2*time.Second)
	endpointLatency := time.Since(start)
	if m.Endpoints == nil || len(m.Endpoints.Endpoints) != 2 {
		t.Fatalf("after a new pod: %v; want two endpoints", m)
	}
	t.Logf("push latency (API change → proxy): AccessPolicy %v, new endpoint %v", policyLatency.Round(time.Millisecond), endpointLatency.Round(time.Millisecond))
}

// TestWatchBundleFollowsRootRotation: a rotation requested on the CA Secret reaches a live
// stream as the two-root bundle; after the commit, certificates chain to the new root, which
// the pushed bundle already holds.
func TestWatchBundleFollowsRootRotation(t *testing.T) {
	h := identitytest.Start(t, func(o *server.Options) { o.MaxTTL = time.Hour; o.RotationPropagation = time.Second })
	h.Namespace(t, "shop", true)
	pod := h.Pod(t, "shop", "payments-1", "payments", "10.88.0.5", nil)
	w := watch(t, h, h.Token(pod, identitytest.Audience, time.Now().Add(10*time.Minute)))
	first := w.next(t, 5*time.Second)
	oldRoot := first.TrustBundle.Roots[0]

	sec, err := h.Kube.CoreV1().Secrets(identitytest.Namespace).Get(context.Background(), castore.DefaultStateSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec.Annotations = map[string]string{castore.AnnotationRotate: "test-1"}
	if _, err := h.Kube.CoreV1().Secrets(identitytest.Namespace).Update(context.Background(), sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	m := w.next(t, 5*time.Second)
	if m.TrustBundle == nil || len(m.TrustBundle.Roots) != 2 || string(m.TrustBundle.Roots[0]) != string(oldRoot) {
		t.Fatalf("after prepare: %v; want the old root, then the new one", m.TrustBundle)
	}
	newRoot := m.TrustBundle.Roots[1]
	m = w.next(t, 5*time.Second) // the commit: the new root signs, the old one stays trusted
	if len(m.TrustBundle.Roots) != 2 || string(m.TrustBundle.Roots[0]) != string(newRoot) {
		t.Fatalf("after commit: %d roots, want the new root first and the old one", len(m.TrustBundle.Roots))
	}
	resp, err := pb.NewIdentityClient(h.Dial(t)).IssueCertificate(context.Background(), &pb.IssueCertificateRequest{
		Csr: csr(t, p256(t), nil), Token: h.Token(pod, identitytest.Audience, time.Now().Add(10*time.Minute)),
	})
	if err != nil {
		t.Fatal(err)
	}
	inter, _ := x509.ParseCertificate(resp.CertificateChain[1])
	root, _ := x509.ParseCertificate(newRoot)
	if err := inter.CheckSignatureFrom(root); err != nil {
		t.Errorf("a certificate issued after the commit does not chain to the new root: %v", err)
	}
}

func TestWatchEndsWhenThePodIsDeletedOrTheTokenExpires(t *testing.T) {
	h := identitytest.Start(t, shortTTL)
	h.Namespace(t, "shop", true)
	pod := h.Pod(t, "shop", "payments-1", "payments", "10.88.0.5", nil)
	w := watch(t, h, h.Token(pod, identitytest.Audience, time.Now().Add(10*time.Minute)))
	w.next(t, 5*time.Second)
	if err := h.Kube.CoreV1().Pods("shop").Delete(context.Background(), pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.end(t, 5*time.Second); status.Code(err) != codes.PermissionDenied {
		t.Errorf("stream of a deleted pod ended with %v, want PermissionDenied", err)
	}

	other := h.Pod(t, "shop", "web-1", "web", "10.88.0.6", nil)
	w = watch(t, h, h.Token(other, identitytest.Audience, time.Now().Add(1500*time.Millisecond)))
	w.next(t, 5*time.Second)
	if err := w.end(t, 5*time.Second); status.Code(err) != codes.Unauthenticated {
		t.Errorf("stream with an expiring token ended with %v, want Unauthenticated", err)
	}
}

func TestWatchRefusesBadTokens(t *testing.T) {
	h := identitytest.Start(t, shortTTL)
	h.Namespace(t, "plain", false)
	pod := h.Pod(t, "plain", "web-1", "web", "10.88.0.6", nil)
	for tok, want := range map[string]codes.Code{
		"": codes.Unauthenticated,
		h.Token(pod, "other", time.Now().Add(time.Minute)):               codes.Unauthenticated,
		h.Token(pod, identitytest.Audience, time.Now().Add(time.Minute)): codes.PermissionDenied,
	} {
		if err := watch(t, h, tok).end(t, 5*time.Second); status.Code(err) != want {
			t.Errorf("Watch = %v, want %v", err, want)
		}
	}
}
