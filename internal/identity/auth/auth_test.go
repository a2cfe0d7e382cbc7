package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
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

// jwt builds an unsigned token with an exp claim; the fake API server decides validity.
func jwt(name string, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(fmt.Sprintf(`{"exp":%d,"sub":%q}`, exp.Unix(), name))) + ".sig"
}

func meshedNamespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"security.outrider.dev/mesh": "enabled"}}}
}

func pod(ns, name, uid, sa string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: k8stypes.UID("uid-" + uid)},
		Spec:       corev1.PodSpec{ServiceAccountName: sa},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

// fakeAPI answers TokenReviews from a table of tokens and counts them.
type fakeAPI struct {
	*fake.Clientset
	reviews atomic.Int32
	tokens  map[string]authnv1.TokenReviewStatus
	fail    error
}

func newFakeAPI(objs ...runtime.Object) *fakeAPI {
	f := &fakeAPI{Clientset: fake.NewClientset(objs...), tokens: map[string]authnv1.TokenReviewStatus{}}
	f.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		f.reviews.Add(1)
		if f.fail != nil {
			return true, nil, f.fail
		}
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		out := tr.DeepCopy()
		st, ok := f.tokens[tr.Spec.Token]
		if !ok {
			st = authnv1.TokenReviewStatus{Error: "invalid bearer token"}
		}
		out.Status = st
		return true, out, nil
	})
	return f
}

// bind registers a token for pod p with the given audiences.
func (f *fakeAPI) bind(token string, p *corev1.Pod, audiences ...string) {
	f.tokens[token] = authnv1.TokenReviewStatus{
		Authenticated: true,
		Audiences:     audiences,
		User: authnv1.UserInfo{
			Username: "system:serviceaccount:" + p.Namespace + ":" + p.Spec.ServiceAccountName,
			Extra: map[string]authnv1.ExtraValue{
				extraPodName: {p.Name},
				extraPodUID:  {string(p.UID)},
			},
		},
	}
}

func newTestAuth(t *testing.T, api *fakeAPI, clk *clock) *Authenticator {
	t.Helper()
	a, err := New(Config{Client: api, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAuthenticateBindsTheIdentityToTheTokensPod(t *testing.T) {
	clk := &clock{now: t0}
	p := pod("shop", "payments-1", "1", "payments")
	api := newFakeAPI(meshedNamespace("shop"), p)
	tok := jwt("payments", t0.Add(10*time.Minute))
	api.bind(tok, p, DefaultAudience)
	w, err := newTestAuth(t, api, clk).Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if w.Namespace != "shop" || w.ServiceAccount != "payments" || w.PodName != "payments-1" || w.PodUID != p.UID || w.Pod == nil {
		t.Errorf("workload = %+v", w)
	}
	if !w.TokenExpiry.Equal(t0.Add(10 * time.Minute)) {
		t.Errorf("TokenExpiry = %v", w.TokenExpiry)
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	good := pod("shop", "payments-1", "1", "payments")
	cases := []struct {
		name  string
		setup func(api *fakeAPI) string // returns the token to present
		want  error
	}{
		{"no-token", func(*fakeAPI) string { return "" }, ErrUnauthenticated},
		{"token-the-api-server-refuses", func(*fakeAPI) string { return "forged" }, ErrUnauthenticated},
		{"token-for-another-audience", func(api *fakeAPI) string {
			api.bind("t", good, "https://kubernetes.default.svc")
			return "t"
		}, ErrUnauthenticated},
		{"api-server-ignores-audiences", func(api *fakeAPI) string { api.bind("t", good); return "t" }, ErrUnauthenticated},
		{"not-a-serviceaccount", func(api *fakeAPI) string {
			api.bind("t", good, DefaultAudience)
			st := api.tokens["t"]
			st.User.Username = "alice"
			api.tokens["t"] = st
			return "t"
		}, ErrUnauthenticated},
		{"token-not-bound-to-a-pod", func(api *fakeAPI) string {
			api.bind("t", good, DefaultAudience)
			st := api.tokens["t"]
			st.User.Extra = nil
			api.tokens["t"] = st
			return "t"
		}, ErrUnauthenticated},
		{"pod-deleted", func(api *fakeAPI) string {
			api.bind("t", pod("shop", "gone", "9", "payments"), DefaultAudience)
			return "t"
		}, ErrPermissionDenied},
		{"pod-replaced-same-name", func(api *fakeAPI) string {
			api.bind("t", pod("shop", "payments-1", "old", "payments"), DefaultAudience)
			return "t"
		}, ErrPermissionDenied},
		{"pod-terminating", func(api *fakeAPI) string {
			p := pod("shop", "stopping", "2", "payments")
			p.DeletionTimestamp = &metav1.Time{Time: t0}
			api.Tracker().Add(p)
			api.bind("t", p, DefaultAudience)
			return "t"
		}, ErrPermissionDenied},
		{"pod-finished", func(api *fakeAPI) string {
			p := pod("shop", "done", "3", "payments")
			p.Status.Phase = corev1.PodSucceeded
			api.Tracker().Add(p)
			api.bind("t", p, DefaultAudience)
			return "t"
		}, ErrPermissionDenied},
		{"pod-runs-as-another-serviceaccount", func(api *fakeAPI) string {
			p := pod("shop", "payments-1", "1", "admin") // the token claims admin; the pod runs as payments
			api.bind("t", p, DefaultAudience)
			return "t"
		}, ErrPermissionDenied},
		{"pod-not-meshed", func(api *fakeAPI) string {
			api.Tracker().Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "plain"}})
			p := pod("plain", "web", "4", "web")
			api.Tracker().Add(p)
			api.bind("t", p, DefaultAudience)
			return "t"
		}, ErrPermissionDenied},
		{"api-server-down", func(api *fakeAPI) string {
			api.bind("t", good, DefaultAudience)
			api.fail = errors.New("connection refused")
			return "t"
		}, ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api := newFakeAPI(meshedNamespace("shop"), good.DeepCopy())
			tok := c.setup(api)
			w, err := newTestAuth(t, api, &clock{now: t0}).Authenticate(context.Background(), tok)
			if !errors.Is(err, c.want) || w != nil {
				t.Fatalf("Authenticate = %v, %v; want %v", w, err, c.want)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// TestMeshMembershipFollowsTheInjector: a pod has an identity exactly when the injector would
// mesh it.
func TestMeshMembershipFollowsTheInjector(t *testing.T) {
	cases := []struct {
		name     string
		nsLabel  string
		podAnn   map[string]string
		accepted bool
	}{
		{"namespace-enabled", "enabled", nil, true},
		{"namespace-optional-pod-annotated", "optional", map[string]string{"security.outrider.dev/mesh": "enabled"}, true},
		{"namespace-optional-pod-not-annotated", "optional", nil, false},
		{"namespace-unlabelled-pod-annotated", "", map[string]string{"security.outrider.dev/mesh": "enabled"}, false},
		{"namespace-enabled-pod-opted-out", "enabled", map[string]string{"security.outrider.dev/inject": "false"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}
			if c.nsLabel != "" {
				ns.Labels = map[string]string{"security.outrider.dev/mesh": c.nsLabel}
			}
			p := pod("ns", "web", "4", "web")
			p.Annotations = c.podAnn
			api := newFakeAPI(ns, p)
			api.bind("t", p, DefaultAudience)
			_, err := newTestAuth(t, api, &clock{now: t0}).Authenticate(context.Background(), "t")
			if c.accepted != (err == nil) || (err != nil && !errors.Is(err, ErrPermissionDenied)) {
				t.Errorf("Authenticate: %v; want accepted=%v", err, c.accepted)
			}
		})
	}
}

// TestReviewCacheNeverOutlivesTheToken: a review is reused for at most CacheTTL and never past
// the token's exp; the pod is re-read every time, so a pod deleted within the minute is refused.
func TestReviewCacheNeverOutlivesTheToken(t *testing.T) {
	clk := &clock{now: t0}
	p := pod("shop", "payments-1", "1", "payments")
	api := newFakeAPI(meshedNamespace("shop"), p)
	short := jwt("short", t0.Add(20*time.Second))
	long := jwt("long", t0.Add(time.Hour))
	api.bind(short, p, DefaultAudience)
	api.bind(long, p, DefaultAudience)
	a := newTestAuth(t, api, clk)
	ctx := context.Background()
	authn := func(tok string) {
		t.Helper()
		if _, err := a.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	authn(long)
	authn(long)
	if n := api.reviews.Load(); n != 1 {
		t.Fatalf("%d TokenReviews for one token within the cache TTL, want 1", n)
	}
	clk.Advance(DefaultCacheTTL)
	authn(long)
	if n := api.reviews.Load(); n != 2 {
		t.Fatalf("%d TokenReviews after the cache TTL, want 2", n)
	}
	authn(short)
	clk.Advance(20 * time.Second) // the short token expires; the API server now refuses it
	delete(api.tokens, short)
	if _, err := a.Authenticate(ctx, short); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("an expired token was served from the cache: %v", err)
	}
	// The pod goes away: the cached review of the long token does not save it.
	if err := api.CoreV1().Pods("shop").Delete(ctx, "payments-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, long); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("a deleted pod's cached token was accepted: %v", err)
	}
}
