package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/outrider-sec/outrider/internal/mesh/inject"
	"github.com/outrider-sec/outrider/internal/policy"
)

// Defaults for Config.
const (
	// DefaultAudience is the audience of the projected tokens proxies present.
	DefaultAudience = "outrider-identity"
	// DefaultCacheTTL bounds how long a successful TokenReview is reused (never past the
	// token's own expiry).
	DefaultCacheTTL = time.Minute
	// maxTokenLen bounds what we send to the API server; projected tokens are about 1 KiB.
	maxTokenLen = 16 << 10
)

// The user extra keys the API server sets for a token bound to a pod.
const (
	extraPodName = "authentication.kubernetes.io/pod-name"
	extraPodUID  = "authentication.kubernetes.io/pod-uid"
	saPrefix     = "system:serviceaccount:"
)

// Workload is an authenticated caller: the pod its token is bound to.
type Workload struct {
	Namespace      string
	ServiceAccount string
	PodName        string
	PodUID         types.UID
	// Pod is the live pod, as read for this request.
	Pod *corev1.Pod
	// TokenExpiry is the token's "exp"; zero when the token carries none.
	TokenExpiry time.Time
}

// String names the workload in logs.
func (w *Workload) String() string { return w.Namespace + "/" + w.PodName }

// NamespaceGetter reads a namespace (its labels decide whether its pods are meshed).
type NamespaceGetter interface {
	GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error)
}

// Config configures an Authenticator. Client is required; every other field has a default.
type Config struct {
	// Client asks the API server for TokenReviews and pods.
	Client kubernetes.Interface
	// Namespaces reads namespaces. Default: a GET through Client.
	Namespaces NamespaceGetter
	// Audience the token must be valid for. Default "outrider-identity".
	Audience string
	// CacheTTL bounds how long a successful review is reused. Default 1 minute. The pod
	// checks are never cached.
	CacheTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Authenticator authenticates proxies by their tokens. It is safe for concurrent use.
type Authenticator struct {
	cfg   Config
	cache *reviewCache
}

// claims is what a TokenReview established.
type claims struct {
	namespace, serviceAccount, podName string
	podUID                             types.UID
	expiry                             time.Time
}

// New returns an Authenticator.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Client == nil {
		return nil, errors.New("auth: no Kubernetes client")
	}
	if cfg.Namespaces == nil {
		cfg.Namespaces = liveNamespaces{cfg.Client}
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Authenticator{cfg: cfg, cache: newReviewCache()}, nil
}

// Authenticate reviews token and checks the pod it is bound to.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*Workload, error) {
	cl, err := a.review(ctx, token)
	if err != nil {
		return nil, err
	}
	pod, err := a.boundPod(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := a.checkMeshed(ctx, pod); err != nil {
		return nil, err
	}
	return &Workload{
		Namespace: cl.namespace, ServiceAccount: cl.serviceAccount,
		PodName: cl.podName, PodUID: cl.podUID, Pod: pod, TokenExpiry: cl.expiry,
	}, nil
}

// review returns the token's claims from the cache or a TokenReview.
func (a *Authenticator) review(ctx context.Context, token string) (claims, error) {
	switch {
	case token == "":
		return claims{}, fmt.Errorf("%w: no token", ErrUnauthenticated)
	case len(token) > maxTokenLen:
		return claims{}, fmt.Errorf("%w: token of %d bytes", ErrUnauthenticated, len(token))
	}
	now := a.cfg.Now()
	if cl, ok := a.cache.get(token, now); ok {
		return cl, nil
	}
	tr, err := a.cfg.Client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: token, Audiences: []string{a.cfg.Audience}},
	}, metav1.CreateOptions{})
	if err != nil {
		return claims{}, fmt.Errorf("%w: TokenReview: %v", ErrUnavailable, err)
	}
	cl, err := a.claimsOf(&tr.Status)
	if err != nil {
		return claims{}, err
	}
	cl.expiry = expiryOf(token)
	until := now.Add(a.cfg.CacheTTL)
	if !cl.expiry.IsZero() && cl.expiry.Before(until) {
		until = cl.expiry
	}
	a.cache.put(token, cl, until, now)
	return cl, nil
}

// claimsOf checks a TokenReview's answer: authenticated, for our audience, a ServiceAccount,
// bound to a pod.
func (a *Authenticator) claimsOf(st *authnv1.TokenReviewStatus) (claims, error) {
	if !st.Authenticated {
		reason := "the API server did not authenticate it"
		if st.Error != "" {
			reason = quote(st.Error)
		}
		return claims{}, fmt.Errorf("%w: token refused: %s", ErrUnauthenticated, reason)
	}
	// An API server that ignores audiences answers with none; accepting that would let any
	// token of the ServiceAccount (the API's own audience included) pass for ours.
	if !slices.Contains(st.Audiences, a.cfg.Audience) {
		return claims{}, fmt.Errorf("%w: token is not for audience %q", ErrUnauthenticated, a.cfg.Audience)
	}
	rest, ok := strings.CutPrefix(st.User.Username, saPrefix)
	ns, sa, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || ns == "" || sa == "" {
		return claims{}, fmt.Errorf("%w: %s is not a ServiceAccount", ErrUnauthenticated, quote(st.User.Username))
	}
	name, uid := st.User.Extra[extraPodName], st.User.Extra[extraPodUID]
	if len(name) != 1 || len(uid) != 1 || name[0] == "" || uid[0] == "" {
		return claims{}, fmt.Errorf("%w: token of %s/%s is not bound to a pod (mount a projected token)", ErrUnauthenticated, ns, sa)
	}
	return claims{namespace: ns, serviceAccount: sa, podName: name[0], podUID: types.UID(uid[0])}, nil
}

// boundPod reads the token's pod live and checks it may hold an identity now.
func (a *Authenticator) boundPod(ctx context.Context, cl claims) (*corev1.Pod, error) {
	pod, err := a.cfg.Client.CoreV1().Pods(cl.namespace).Get(ctx, cl.podName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("%w: pod %s/%s no longer exists", ErrPermissionDenied, cl.namespace, cl.podName)
	case err != nil:
		return nil, fmt.Errorf("%w: reading pod %s/%s: %v", ErrUnavailable, cl.namespace, cl.podName, err)
	case pod.UID != cl.podUID:
		return nil, fmt.Errorf("%w: pod %s/%s was replaced (uid %s, token bound to %s)", ErrPermissionDenied, cl.namespace, cl.podName, pod.UID, cl.podUID)
	case pod.DeletionTimestamp != nil:
		return nil, fmt.Errorf("%w: pod %s/%s is terminating", ErrPermissionDenied, cl.namespace, cl.podName)
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return nil, fmt.Errorf("%w: pod %s/%s has finished (%s)", ErrPermissionDenied, cl.namespace, cl.podName, pod.Status.Phase)
	case serviceAccountOf(pod) != cl.serviceAccount:
		return nil, fmt.Errorf("%w: pod %s/%s runs as %s, the token is for %s", ErrPermissionDenied, cl.namespace, cl.podName, serviceAccountOf(pod), cl.serviceAccount)
	}
	return pod, nil
}

// checkMeshed applies the injector's rule (inject.Wanted): the namespace labelled
// security.outrider.dev/mesh=enabled, or =optional with the pod annotated, and no opt-out.
func (a *Authenticator) checkMeshed(ctx context.Context, pod *corev1.Pod) error {
	ns, err := a.cfg.Namespaces.GetNamespace(ctx, pod.Namespace)
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: namespace %s no longer exists", ErrPermissionDenied, pod.Namespace)
	case err != nil:
		return fmt.Errorf("%w: reading namespace %s: %v", ErrUnavailable, pod.Namespace, err)
	case !inject.Wanted(pod.Annotations, ns.Labels):
		return fmt.Errorf("%w: pod %s/%s is not in the mesh (label its namespace %s=%s, or =%s and annotate the pod; %s=%s opts out)",
			ErrPermissionDenied, pod.Namespace, pod.Name, policy.MeshLabel, policy.MeshEnabled, inject.MeshOptional, policy.InjectAnnotation, policy.InjectDisabled)
	}
	return nil
}

func serviceAccountOf(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	return "default"
}

// expiryOf reads "exp" from a JWT's payload without verifying it: it is called only after the
// API server has accepted the token, and only bounds how long we cache that answer. A token
// whose payload cannot be read is cached for CacheTTL at most.
func expiryOf(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var c struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return time.Time{}
	}
	exp, err := c.Exp.Int64()
	if err != nil || exp <= 0 {
		return time.Time{}
	}
	return time.Unix(exp, 0)
}

// liveNamespaces reads namespaces from the API server.
type liveNamespaces struct{ c kubernetes.Interface }

func (l liveNamespaces) GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	return l.c.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
}
