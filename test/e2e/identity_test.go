//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	k8srand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/identity/castore"
	pb "github.com/outrider-sec/outrider/internal/identity/identitypb"
	"github.com/outrider-sec/outrider/internal/identity/server"
)

// The identity tests run `outrider identity` in the test process (its server package, real
// gRPC over TLS on loopback) against the cluster's real API server: real TokenReviews of real
// projected tokens (TokenRequest bound to real pods), real informers. Each test's service keeps
// its CA in its own namespace and publishes its bootstrap bundle under a name of its own, which
// it removes when the test ends.

const identityAudience = "outrider-identity"

// saKeyPath is the local cluster's ServiceAccount signing key, used to mint a correctly signed
// token that has expired (TokenRequest cannot make one shorter than 10 minutes).
var saKeyPath = "/var/lib/outrider-cluster/pki/sa.key"

type identityService struct {
	ns       string
	addr     string
	srv      *server.Server
	serverID spiffeid.ID
	logs     *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startIdentity runs an identity service whose CA lives in namespace ns (a new one when empty).
func startIdentity(t *testing.T, ns string, mutate func(*server.Options)) *identityService {
	t.Helper()
	if ns == "" {
		ns = newNamespace(t, "idsvc", nil)
	}
	cm := "outrider-trust-bundle-e2e-" + k8srand.String(5)
	opts := server.Options{Namespace: ns, ServiceAccount: "outrider-identity", HTTPAddr: "0", BundleConfigMap: cm, MaxTTL: time.Hour}
	if mutate != nil {
		mutate(&opts)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Clients{Kube: env.cs, Dynamic: env.dyn}, opts, slog.New(slog.NewJSONHandler(logs, nil)))
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
			t.Logf("identity service log:\n%s", logs.String())
		}
		deleteBundleConfigMaps(cm)
	})
	return &identityService{ns: ns, addr: lis.Addr().String(), srv: srv, logs: logs,
		serverID: spiffeid.RequireFromSegments(srv.CA().TrustDomain(), "ns", ns, "sa", "outrider-identity")}
}

// deleteBundleConfigMaps removes what one test service published, in every namespace.
func deleteBundleConfigMaps(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := env.cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		return
	}
	for _, cm := range list.Items {
		env.cs.CoreV1().ConfigMaps(cm.Namespace).Delete(ctx, cm.Name, metav1.DeleteOptions{})
	}
}

// client connects as a proxy would: TLS 1.3, the service verified as an X509-SVID for its
// ServiceAccount against the bundle.
func (s *identityService) client(t *testing.T) pb.IdentityClient {
	t.Helper()
	cfg := tlsconfig.TLSClientConfig(s.srv.CA().Bundle(), tlsconfig.AuthorizeID(s.serverID))
	conn, err := grpc.NewClient("passthrough:///"+s.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewIdentityClient(conn)
}

// workloadPod creates ServiceAccount sa (if missing) and a restricted pod running as it.
func workloadPod(t *testing.T, ns, name, sa string, labels map[string]string, finalizers ...string) *corev1.Pod {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	_, err := env.cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating ServiceAccount %s/%s: %v", ns, sa, err)
	}
	p := newPod(ns, name, restrictedPodSpec())
	p.Spec.ServiceAccountName = sa
	p.Finalizers = finalizers
	for k, v := range labels {
		p.Labels[k] = v
	}
	created, err := env.cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s/%s: %v", ns, name, err)
	}
	return created
}

// boundToken asks TokenRequest for a token bound to pod, as the kubelet does for a projected
// volume.
func boundToken(t *testing.T, pod *corev1.Pod, audience string) string {
	t.Helper()
	tr, err := env.cs.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctxFor(t, 30*time.Second), pod.Spec.ServiceAccountName, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{
			Audiences:         []string{audience},
			ExpirationSeconds: ptr.To[int64](600),
			BoundObjectRef:    &authnv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return tr.Status.Token
}

func newCSR(t *testing.T, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func issue(t *testing.T, c pb.IdentityClient, token string, csr []byte) (*pb.IssueCertificateResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return c.IssueCertificate(ctx, &pb.IssueCertificateRequest{Csr: csr, Token: token, Ttl: durationpb.New(time.Minute)})
}

// TestIdentityIssuesToTheTokensPod: a real projected token of a meshed pod buys a certificate
// naming the pod's namespace and ServiceAccount, whatever the CSR asks for.
func TestIdentityIssuesToTheTokensPod(t *testing.T) {
	t.Parallel()
	svc := startIdentity(t, "", nil)
	ns := newNamespace(t, "idmesh", map[string]string{"security.outrider.dev/mesh": "enabled"})
	pod := workloadPod(t, ns, "payments", "payments", nil)
	c := svc.client(t)

	admin, _ := url.Parse("spiffe://cluster.local/ns/kube-system/sa/admin")
	resp, err := issue(t, c, boundToken(t, pod, identityAudience), newCSR(t, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "admin"}, URIs: []*url.URL{admin}, DNSNames: []string{"kubernetes.default.svc"},
	}))
	if err != nil {
		t.Fatalf("IssueCertificate: %v", err)
	}
	want := "spiffe://cluster.local/ns/" + ns + "/sa/payments"
	id, _, err := x509svid.ParseAndVerify(resp.CertificateChain, svc.srv.CA().Bundle())
	if err != nil || id.String() != want || resp.SpiffeId != want {
		t.Fatalf("certificate for %s (%s), verify error %v; want %s", id, resp.SpiffeId, err, want)
	}
	leaf, _ := x509.ParseCertificate(resp.CertificateChain[0])
	if len(leaf.URIs) != 1 || len(leaf.DNSNames) != 0 || leaf.Subject.CommonName != "" {
		t.Errorf("the CSR's names reached the leaf: %v %v %q", leaf.URIs, leaf.DNSNames, leaf.Subject.CommonName)
	}
}

// TestIdentityRefusesWhatTheTokenDoesNotProve: each refusal is a gRPC status with a reason,
// logged, and never a certificate.
func TestIdentityRefusesWhatTheTokenDoesNotProve(t *testing.T) {
	t.Parallel()
	svc := startIdentity(t, "", nil)
	meshed := newNamespace(t, "idref", map[string]string{"security.outrider.dev/mesh": "enabled"})
	plain := newNamespace(t, "idplain", nil)
	c := svc.client(t)
	ctx := ctxFor(t, 2*time.Minute)

	cases := []struct {
		name  string
		token func(t *testing.T) string
		want  []codes.Code
	}{
		{"token-for-another-audience", func(t *testing.T) string {
			return boundToken(t, workloadPod(t, meshed, "aud", "aud", nil), "https://kubernetes.default.svc.cluster.local")
		}, []codes.Code{codes.Unauthenticated}},
		{"pod-deleted", func(t *testing.T) string {
			p := workloadPod(t, meshed, "deleted", "deleted", nil)
			tok := boundToken(t, p, identityAudience)
			if err := env.cs.CoreV1().Pods(meshed).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
				t.Fatal(err)
			}
			eventually(t, time.Minute, 200*time.Millisecond, "pod deleted", func(ctx context.Context) (bool, error) {
				_, err := env.cs.CoreV1().Pods(meshed).Get(ctx, p.Name, metav1.GetOptions{})
				return apierrors.IsNotFound(err), nil
			})
			return tok
		}, []codes.Code{codes.Unauthenticated, codes.PermissionDenied}},
		{"pod-terminating", func(t *testing.T) string {
			p := workloadPod(t, meshed, "terminating", "terminating", nil, "e2e.outrider.dev/hold")
			t.Cleanup(func() { releaseFinalizer(meshed, p.Name) })
			tok := boundToken(t, p, identityAudience)
			if err := env.cs.CoreV1().Pods(meshed).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			return tok
		}, []codes.Code{codes.PermissionDenied, codes.Unauthenticated}},
		{"pod-not-meshed", func(t *testing.T) string {
			return boundToken(t, workloadPod(t, plain, "plain", "plain", nil), identityAudience)
		}, []codes.Code{codes.PermissionDenied}},
		{"token-expired", func(t *testing.T) string {
			return expiredToken(t, boundToken(t, workloadPod(t, meshed, "expired", "expired", nil), identityAudience))
		}, []codes.Code{codes.Unauthenticated}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := issue(t, c, tc.token(t), newCSR(t, nil))
			code := status.Code(err)
			if resp != nil || !containsCode(tc.want, code) {
				t.Fatalf("IssueCertificate = %v, %v; want one of %v and no certificate", resp, err, tc.want)
			}
			t.Logf("refused: %v", err)
		})
	}
	if n := strings.Count(svc.logs.String(), `"msg":"certificate refused"`); n < len(cases) {
		t.Errorf("%d refusals logged, want %d", n, len(cases))
	}
}

func containsCode(list []codes.Code, c codes.Code) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

func releaseFinalizer(ns, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env.cs.CoreV1().Pods(ns).Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
}

// expiredToken re-signs a real token's claims with its expiry in the past, with the cluster's
// own ServiceAccount key: a token the API server issued in every respect, but expired.
func expiredToken(t *testing.T, real string) string {
	t.Helper()
	if p := os.Getenv("OUTRIDER_SA_KEY"); p != "" {
		saKeyPath = p
	}
	der, err := os.ReadFile(saKeyPath)
	if err != nil {
		t.Skipf("the cluster's ServiceAccount key is not readable here (%v); set OUTRIDER_SA_KEY", err)
	}
	block, _ := pem.Decode(der)
	if block == nil {
		t.Fatalf("%s: no PEM", saKeyPath)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			t.Fatalf("%s: %v", saKeyPath, err)
		}
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		t.Skipf("%s holds a %T; this test signs RS256 only", saKeyPath, key)
	}
	parts := strings.Split(real, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims["iat"], claims["nbf"], claims["exp"] = now.Add(-20*time.Minute).Unix(), now.Add(-20*time.Minute).Unix(), now.Add(-2*time.Minute).Unix()
	body, _ := json.Marshal(claims)
	signed := parts[0] + "." + base64.RawURLEncoding.EncodeToString(body)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// watchStream reads a Watch stream in the background.
type watchStream struct {
	msgs chan *pb.WatchResponse
	errs chan error
}

func (s *identityService) watch(t *testing.T, token string) *watchStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := s.client(t).Watch(ctx, &pb.WatchRequest{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	w := &watchStream{msgs: make(chan *pb.WatchResponse, 64), errs: make(chan error, 1)}
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

// until returns the first message that satisfies ok, within timeout.
func (w *watchStream) until(t *testing.T, timeout time.Duration, what string, ok func(*pb.WatchResponse) bool) *pb.WatchResponse {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m := <-w.msgs:
			if ok(m) {
				return m
			}
		case err := <-w.errs:
			t.Fatalf("waiting for %s: the stream ended: %v", what, err)
		case <-deadline:
			t.Fatalf("waiting for %s: nothing within %v", what, timeout)
		}
	}
}

// TestIdentityPolicyPushLatency measures, on the real API server, how long an AccessPolicy
// change and a label change take to reach a subscribed proxy (the requirement is 2 s). (New
// endpoints are covered by the unit tests: these pods run no injected proxy, so they are
// workloads for the policies but not endpoints.)
func TestIdentityPolicyPushLatency(t *testing.T) {
	t.Parallel()
	svc := startIdentity(t, "", nil)
	ns := newNamespace(t, "idpush", map[string]string{"security.outrider.dev/mesh": "enabled"})
	backend := workloadPod(t, ns, "backend", "backend", map[string]string{"tier": "backend"})
	w := svc.watch(t, boundToken(t, backend, identityAudience))
	w.until(t, 10*time.Second, "the first message", func(m *pb.WatchResponse) bool { return m.Policy != nil })

	ap := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": "AccessPolicy",
		"metadata": map[string]any{"name": "backend", "namespace": ns},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"tier": "backend"}},
			"ingress":  []any{map[string]any{"from": []any{map[string]any{"serviceAccounts": []any{"frontend"}}}}},
		},
	}}
	start := time.Now()
	if _, err := env.dyn.Resource(v1alpha1.GroupVersion.WithResource("accesspolicies")).Namespace(ns).Create(ctxFor(t, 30*time.Second), ap, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the AccessPolicy: %v", err)
	}
	w.until(t, 2*time.Second, "the compiled policy", func(m *pb.WatchResponse) bool {
		return m.Policy != nil && strings.Contains(string(m.Policy.Json), "/ns/"+ns+"/sa/frontend")
	})
	policyLatency := time.Since(start)

	start = time.Now()
	patch := []byte(`{"metadata":{"labels":{"tier":"retired"}}}`)
	if _, err := env.cs.CoreV1().Pods(ns).Patch(ctxFor(t, 30*time.Second), backend.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	w.until(t, 2*time.Second, "the policy of an unselected workload", func(m *pb.WatchResponse) bool {
		return m.Policy != nil && string(m.Policy.Json) == "{}"
	})
	labelLatency := time.Since(start)

	t.Logf("push latency on the real API server: AccessPolicy created → proxy %v; pod relabelled → proxy %v",
		policyLatency.Round(time.Millisecond), labelLatency.Round(time.Millisecond))
}

// TestIdentityRootRotationUnderLiveWatch walks a root rotation on the real API server with a
// subscribed proxy: it receives the old and new roots when the rotation is requested, keeps
// both after the commit, and the new one only once the overlap has passed. Certificates
// issued after the commit chain to the new root.
func TestIdentityRootRotationUnderLiveWatch(t *testing.T) {
	t.Parallel()
	svc := startIdentity(t, "", func(o *server.Options) {
		o.MaxTTL, o.DefaultTTL = time.Minute, time.Minute
		o.RotationPropagation, o.RotationOverlap = 2*time.Second, time.Minute
	})
	ns := newNamespace(t, "idrot", map[string]string{"security.outrider.dev/mesh": "enabled"})
	pod := workloadPod(t, ns, "app", "app", nil)
	w := svc.watch(t, boundToken(t, pod, identityAudience))
	first := w.until(t, 10*time.Second, "the first bundle", func(m *pb.WatchResponse) bool { return m.TrustBundle != nil })
	oldRoot := first.TrustBundle.Roots[0]

	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"e2e-%d"}}}`, castore.AnnotationRotate, time.Now().Unix())
	if _, err := env.cs.CoreV1().Secrets(svc.ns).Patch(ctxFor(t, 30*time.Second), castore.DefaultStateSecret, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m := w.until(t, 5*time.Second, "old and new roots", func(m *pb.WatchResponse) bool { return m.TrustBundle != nil })
	if len(m.TrustBundle.Roots) != 2 || !bytes.Equal(m.TrustBundle.Roots[0], oldRoot) {
		t.Fatalf("after the request: %d roots; want the old one and the new one", len(m.TrustBundle.Roots))
	}
	newRoot := m.TrustBundle.Roots[1]
	t.Logf("prepared: both roots pushed %v after the request", time.Since(start).Round(time.Millisecond))
	m = w.until(t, 10*time.Second, "the commit", func(m *pb.WatchResponse) bool { return m.TrustBundle != nil })
	if len(m.TrustBundle.Roots) != 2 || !bytes.Equal(m.TrustBundle.Roots[0], newRoot) {
		t.Fatalf("after the commit: %d roots, new first = %v", len(m.TrustBundle.Roots), bytes.Equal(m.TrustBundle.Roots[0], newRoot))
	}
	t.Logf("committed %v after the request; the old root stays trusted for the overlap", time.Since(start).Round(time.Millisecond))
	resp, err := issue(t, svc.client(t), boundToken(t, pod, identityAudience), newCSR(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	inter, _ := x509.ParseCertificate(resp.CertificateChain[1])
	root, _ := x509.ParseCertificate(newRoot)
	if err := inter.CheckSignatureFrom(root); err != nil {
		t.Errorf("a certificate issued after the commit does not chain to the new root: %v", err)
	}
	m = w.until(t, 2*time.Minute, "the end of the overlap", func(m *pb.WatchResponse) bool { return m.TrustBundle != nil })
	if len(m.TrustBundle.Roots) != 1 || !bytes.Equal(m.TrustBundle.Roots[0], newRoot) {
		t.Fatalf("after the overlap: %d roots; want the new one only", len(m.TrustBundle.Roots))
	}
	t.Logf("old root left the bundle %v after the request", time.Since(start).Round(time.Millisecond))
}

// TestIdentityReplicasShareOneCA: two replicas on one CA Secret open the same root, and a
// rotation request is handled once and seen by both.
func TestIdentityReplicasShareOneCA(t *testing.T) {
	t.Parallel()
	a := startIdentity(t, "", nil)
	b := startIdentity(t, a.ns, nil)
	if !a.srv.CA().Root().Equal(b.srv.CA().Root()) {
		t.Fatal("two replicas on one Secret opened different roots")
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"e2e-replicas"}}}`, castore.AnnotationRotate)
	if _, err := env.cs.CoreV1().Secrets(a.ns).Patch(ctxFor(t, 30*time.Second), castore.DefaultStateSecret, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, 100*time.Millisecond, "both replicas trust both roots", func(context.Context) (bool, error) {
		return len(a.srv.CA().Bundle().X509Authorities()) == 2 && len(b.srv.CA().Bundle().X509Authorities()) == 2, nil
	})
	if n := strings.Count(a.logs.String()+b.logs.String(), `"msg":"root rotation prepared"`); n != 1 {
		t.Errorf("the rotation was prepared %d times, want once", n)
	}
}
