package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
)

func TestResolveTag(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.ref(t, "app:v1")
	want := reg.push(t, ref)
	reg.resetCounts()

	m := NewMetrics(prometheus.NewRegistry())
	c := New(Options{Metrics: m})
	got, err := c.Resolve(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Resolve(%s) = %s, want %s", ref, got, want)
	}
	if n := reg.manifestReads.Load(); n != 1 {
		t.Errorf("manifest requests = %d, want 1 (one HEAD)", n)
	}
	if n := m.RequestCount(reg.host, "manifest_head", OutcomeOK); n != 1 {
		t.Errorf("metric manifest_head ok = %v, want 1", n)
	}
	if n := m.RequestCount(reg.host, "manifest_get", ""); n != 0 {
		t.Errorf("metric manifest_get = %v, want 0", n)
	}
}

// An image index resolves to the index's own digest: that is what the runtime pins.
func TestResolveIndex(t *testing.T) {
	reg := newTestRegistry(t)
	idx, err := random.Index(64, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.ref(t, "multi:v1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	got, err := New(Options{}).Resolve(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Resolve(index) = %s, want the index digest %s", got, want)
	}
}

func TestResolveDigestMakesNoCalls(t *testing.T) {
	reg := newTestRegistry(t)
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	m := NewMetrics(nil)
	c := New(Options{Metrics: m})
	for _, s := range []string{reg.host + "/app@" + digest, reg.host + "/app:v1@" + digest, closedAddr(t) + "/app@" + digest} {
		got, err := c.Resolve(context.Background(), mustRef(t, s), nil)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", s, err)
		}
		if got.String() != digest {
			t.Errorf("Resolve(%s) = %s", s, got)
		}
	}
	if n := reg.requests.Load(); n != 0 {
		t.Errorf("registry saw %d requests, want 0", n)
	}
	if n := m.RequestCount("", "", ""); n != 0 {
		t.Errorf("client counted %v requests, want 0", n)
	}
}

func TestResolveFallsBackToGet(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.ref(t, "app:v1")
	want := reg.push(t, ref)
	reg.noHeadDigest.Store(true)
	reg.resetCounts()

	got, err := New(Options{}).Resolve(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Resolve = %s, want %s", got, want)
	}
	if n := reg.manifestGets.Load(); n != 1 {
		t.Errorf("manifest GETs = %d, want 1", n)
	}
}

func TestResolveNotFound(t *testing.T) {
	reg := newTestRegistry(t)
	reg.push(t, reg.ref(t, "app:v1"))
	c := New(Options{})
	tests := []struct {
		image, want string
	}{
		{"app:v9", fmt.Sprintf("registry %s has no image %s/app:v9 (manifest unknown)", reg.host, reg.host)},
		{"nothing:v1", fmt.Sprintf("registry %s has no image %s/nothing:v1 (repository unknown)", reg.host, reg.host)},
	}
	for _, tt := range tests {
		_, err := c.Resolve(context.Background(), reg.ref(t, tt.image), nil)
		e := asError(t, err)
		if !e.NotFound || e.Timeout || e.Unauthorized {
			t.Errorf("%s: flags %+v, want NotFound only", tt.image, e)
		}
		if err.Error() != tt.want {
			t.Errorf("%s: error\n %q\nwant\n %q", tt.image, err, tt.want)
		}
		if e.Registry != reg.host || e.Image != reg.host+"/"+tt.image {
			t.Errorf("%s: Registry %q Image %q", tt.image, e.Registry, e.Image)
		}
	}
}

// Mirrors: the reference names registry A; requests go to B. A serves nothing and must see
// no request at all.
func TestResolveMirror(t *testing.T) {
	named, mirror := newTestRegistry(t), newTestRegistry(t)
	want := mirror.push(t, mirror.ref(t, "app:v1"))
	named.push(t, named.ref(t, "other:v1"))
	named.resetCounts()

	m := NewMetrics(nil)
	c := New(Options{Mirrors: map[string]string{named.host: mirror.host}, Metrics: m})
	got, err := c.Resolve(context.Background(), named.ref(t, "app:v1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Resolve through mirror = %s, want %s", got, want)
	}
	if n := named.requests.Load(); n != 0 {
		t.Errorf("the named registry saw %d requests, want 0", n)
	}
	if n := m.RequestCount(named.host, "manifest_head", OutcomeOK); n != 1 {
		t.Errorf("metrics name the reference's registry: manifest_head ok for %s = %v, want 1", named.host, n)
	}
	if n := m.RequestCount(mirror.host, "", ""); n != 0 {
		t.Errorf("metrics counted %v requests under the mirror's address", n)
	}

	// Errors name the registry of the reference, not the mirror.
	_, err = c.Resolve(context.Background(), named.ref(t, "app:v9"), nil)
	if e := asError(t, err); e.Registry != named.host || strings.Contains(err.Error(), mirror.host) {
		t.Errorf("error %q names the mirror", err)
	}
}

// A registry name that go-containerregistry would only speak https to, mirrored to a plain
// http server: allowed when listed in Insecure, refused with a clear error otherwise.
func TestResolveInsecure(t *testing.T) {
	mirror := newTestRegistry(t)
	want := mirror.push(t, mirror.ref(t, "app:v1"))
	ref := mustRef(t, "registry.test:5000/app:v1")
	mirrors := map[string]string{"registry.test:5000": mirror.host}

	_, err := New(Options{Mirrors: mirrors}).Resolve(context.Background(), ref, nil)
	if e := asError(t, err); !strings.Contains(e.Error(), "plain http") {
		t.Errorf("without Insecure: %v, want a plain-http refusal", err)
	}

	for _, insecure := range []string{"registry.test", "registry.test:5000"} {
		c := New(Options{Mirrors: mirrors, Insecure: []string{insecure}})
		for i := range 2 { // the second time the client remembers the host speaks http
			got, err := c.Resolve(context.Background(), ref, nil)
			if err != nil {
				t.Fatalf("Insecure %q, try %d: %v", insecure, i, err)
			}
			if got != want {
				t.Errorf("Insecure %q: %s, want %s", insecure, got, want)
			}
		}
	}
}

func TestResolvePullSecretAuth(t *testing.T) {
	reg := newTestRegistry(t)
	reg.user, reg.pass = "ci", "s3cret"
	ref := reg.ref(t, "private/app:v1")
	want := reg.push(t, ref)

	secret := func(user, pass string) authn.Keychain {
		kc, err := PullSecretKeychain([]corev1.Secret{dockerConfigSecret("team", "regcred",
			fmt.Sprintf(`{"auths":{%q:{"username":%q,"password":%q}}}`, reg.host, user, pass))})
		if err != nil {
			t.Fatal(err)
		}
		return kc
	}
	m := NewMetrics(nil)
	c := New(Options{Metrics: m})

	got, err := c.Resolve(context.Background(), ref, secret("ci", "s3cret"))
	if err != nil {
		t.Fatalf("with the pull secret: %v", err)
	}
	if got != want {
		t.Errorf("with the pull secret: %s, want %s", got, want)
	}

	_, err = c.Resolve(context.Background(), ref, nil)
	if e := asError(t, err); !e.Unauthorized || !strings.Contains(err.Error(), "refused anonymous access") {
		t.Errorf("anonymous: %v (%+v), want Unauthorized refusing anonymous access", err, e)
	}
	_, err = c.Resolve(context.Background(), ref, secret("ci", "wrong"))
	if e := asError(t, err); !e.Unauthorized || !strings.Contains(err.Error(), "refused the credentials") {
		t.Errorf("wrong password: %v, want Unauthorized refusing the credentials", err)
	}
	if n := m.RequestCount(reg.host, "manifest_head", OutcomeUnauthorized); n != 2 {
		t.Errorf("metric manifest_head unauthorized = %v, want 2", n)
	}

	// The controller's own keychain is tried after the pod's secrets.
	ctrl := New(Options{Keychain: secret("ci", "s3cret")})
	if _, err := ctrl.Resolve(context.Background(), ref, secret("ci", "wrong")); err == nil {
		t.Error("a matching pull secret must win over the controller's keychain")
	}
	if _, err := ctrl.Resolve(context.Background(), ref, nil); err != nil {
		t.Errorf("controller keychain: %v", err)
	}
}

func TestResolveSlowRegistryTimesOut(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.ref(t, "app:v1")
	reg.push(t, ref)
	reg.stall.Store(true)

	const timeout = 300 * time.Millisecond
	m := NewMetrics(nil)
	c := New(Options{Timeout: timeout, Metrics: m})
	start := time.Now()
	_, err := c.Resolve(context.Background(), ref, nil)
	elapsed := time.Since(start)

	e := asError(t, err)
	if !e.Timeout {
		t.Fatalf("error %v is not a timeout", err)
	}
	// Generous slack for a busy machine; the point is that it does not wait for the
	// registry's minute.
	if elapsed > timeout+10*time.Second {
		t.Errorf("Resolve returned after %s, want about %s", elapsed, timeout)
	}
	want := fmt.Sprintf("registry %s did not answer within 300ms while resolving %s/app:v1", reg.host, reg.host)
	if err.Error() != want {
		t.Errorf("error\n %q\nwant\n %q", err, want)
	}
	if n := m.RequestCount(reg.host, "manifest_head", OutcomeTimeout); n != 1 {
		t.Errorf("metric manifest_head timeout = %v, want 1", n)
	}
}

// A caller's own deadline shorter than the timeout is the bound the message names.
func TestResolveCallerDeadline(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.ref(t, "app:v1")
	reg.push(t, ref)
	reg.stall.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := New(Options{Timeout: time.Minute}).Resolve(ctx, ref, nil)
	if e := asError(t, err); !e.Timeout || !strings.Contains(err.Error(), "within 500ms") {
		t.Errorf("error %q, want a timeout within 500ms", err)
	}
}

func TestResolveClosedPort(t *testing.T) {
	addr := closedAddr(t)
	ref := mustRef(t, addr+"/app:v1")
	_, err := New(Options{}).Resolve(context.Background(), ref, nil)
	e := asError(t, err)
	if e.Timeout || e.NotFound || e.Unauthorized {
		t.Errorf("flags %+v, want none", e)
	}
	if e.Registry != addr {
		t.Errorf("Registry = %q, want %q", e.Registry, addr)
	}
	prefix := fmt.Sprintf("registry %s is unreachable while resolving %s/app:v1: ", addr, addr)
	if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error\n %q\nwant it to start with\n %q\nand say connection refused", err, prefix)
	}
}

func TestResolveCancelledCaller(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.ref(t, "app:v1")
	reg.push(t, ref)
	reg.stall.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err := New(Options{Timeout: time.Minute}).Resolve(ctx, ref, nil)
	e := asError(t, err)
	if e.Timeout || !errors.Is(err, context.Canceled) {
		t.Errorf("error %v (%+v), want a cancellation, not a timeout", err, e)
	}
}

// asError checks that err is an *Error and returns it.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not an *Error", err, err)
	}
	return e
}

func dockerConfigSecret(namespace, name, config string) corev1.Secret {
	s := corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(config)}}
	s.Namespace, s.Name = namespace, name
	return s
}
