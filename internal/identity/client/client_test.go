package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/outrider-sec/outrider/internal/identity/castore"
	"github.com/outrider-sec/outrider/internal/identity/identitytest"
	"github.com/outrider-sec/outrider/internal/identity/server"
)

func hourTTL(o *server.Options) { o.MaxTTL = time.Hour }

func TestClientBootstrapsTheProxy(t *testing.T) {
	h := identitytest.Start(t, hourTTL)
	h.Namespace(t, "shop", true)
	f := newProxy(t, h, h.Pod(t, "shop", "payments-1", "payments", "10.88.0.5", nil), func(c *Config) { c.TTL = 2 * time.Minute })
	if err := f.client.Ready(); err == nil {
		t.Fatal("ready before running")
	}
	f.start(t)
	waitFor(t, 5*time.Second, "ready", func() bool { return f.client.Ready() == nil })
	c, n := f.sink.cert()
	if n != 1 || c.Leaf == nil || c.Leaf.URIs[0].String() != "spiffe://cluster.local/ns/shop/sa/payments" {
		t.Fatalf("certificate %v (%d installed)", c.Leaf, n)
	}
	if life := time.Until(c.Leaf.NotAfter); life > 2*time.Minute || life < 100*time.Second {
		t.Errorf("lifetime %v, want the requested 2m", life)
	}
	if f.sink.roots() != 1 || f.sink.lastPolicy() == nil || f.sink.endpointCount() != 1 {
		t.Errorf("bundle %d roots, policy %v, %d endpoints", f.sink.roots(), f.sink.lastPolicy(), f.sink.endpointCount())
	}
}

func TestRenewAfterIsHalfLifeWithJitter(t *testing.T) {
	now := time.Now()
	for _, r := range []float64{0, 0.25, 0.5, 0.999} {
		got := renewAfter(now, now.Add(24*time.Hour), r)
		if got < 54*time.Minute*12-time.Second || got > 66*time.Minute*12 {
			t.Errorf("r=%v: renew after %v, want 12h ± 10%%", r, got)
		}
	}
	if got := renewAfter(now, now.Add(-time.Second), 0.5); got != 0 {
		t.Errorf("an expired certificate is renewed after %v, want at once", got)
	}
}

// TestRenewalKeepsTheOldCertificateUntilANewOne: renewals replace the certificate in one step;
// while the service refuses (the token file is broken), the proxy keeps its certificate and
// the client retries, and the next success installs a new one.
func TestRenewalKeepsTheOldCertificateUntilANewOne(t *testing.T) {
	h := identitytest.Start(t, hourTTL)
	h.Namespace(t, "shop", true)
	pod := h.Pod(t, "shop", "payments-1", "payments", "10.88.0.5", nil)
	f := newProxy(t, h, pod, nil)
	f.client.after = func(d time.Duration) <-chan time.Time {
		return time.After(min(d, 50*time.Millisecond)) // renew at once, again and again
	}
	f.start(t)
	waitFor(t, 5*time.Second, "two certificates", func() bool { _, n := f.sink.cert(); return n >= 2 })

	f.writeToken(t, "garbage")
	refused := func() int { return strings.Count(h.Logs.String(), `"msg":"certificate refused"`) }
	waitFor(t, 5*time.Second, "a refused renewal", func() bool { return refused() >= 1 })
	held, n := f.sink.cert()
	waitFor(t, 5*time.Second, "three more refused renewals", func() bool { return refused() >= 4 })
	if now, m := f.sink.cert(); m != n || now.Leaf.SerialNumber.Cmp(held.Leaf.SerialNumber) != 0 {
		t.Fatalf("the certificate changed while renewals failed (%d → %d installed)", n, m)
	}
	if f.client.Ready() != nil {
		t.Errorf("not ready while holding a valid certificate: %v", f.client.Ready())
	}
	f.writeToken(t, h.Token(pod, identitytest.Audience, time.Now().Add(10*time.Minute)))
	waitFor(t, 5*time.Second, "a new certificate after the token is fixed", func() bool {
		c, _ := f.sink.cert()
		return c.Leaf.SerialNumber.Cmp(held.Leaf.SerialNumber) != 0
	})
}

// TestWatchReconnectsWithTheRotatedToken: the service ends the stream when the token expires;
// the client re-reads the file (the kubelet wrote a new token) and keeps receiving updates.
func TestWatchReconnectsWithTheRotatedToken(t *testing.T) {
	h := identitytest.Start(t, hourTTL)
	h.Namespace(t, "shop", true)
	pod := h.Pod(t, "shop", "payments-1", "payments", "10.88.0.5", nil)
	f := newProxy(t, h, pod, nil)
	f.writeToken(t, h.Token(pod, identitytest.Audience, time.Now().Add(1500*time.Millisecond)))
	f.start(t)
	waitFor(t, 5*time.Second, "ready", func() bool { return f.client.Ready() == nil })
	f.writeToken(t, h.Token(pod, identitytest.Audience, time.Now().Add(10*time.Minute)))
	waitFor(t, 5*time.Second, "the stream reopened", func() bool {
		return strings.Count(h.Logs.String(), `"msg":"watch started"`) >= 2
	})
	h.Pod(t, "shop", "web-1", "web", "10.88.0.6", nil)
	waitFor(t, 5*time.Second, "the new endpoint", func() bool { return f.sink.endpointCount() == 2 })
}

// TestClientVerifiesTheService: a service presenting another identity, or one the bootstrap
// bundle does not trust, gets no token and installs nothing.
func TestClientVerifiesTheService(t *testing.T) {
	h := identitytest.Start(t, hourTTL)
	h.Namespace(t, "shop", true)
	pod := h.Pod(t, "shop", "payments-1", "payments", "10.88.0.5", nil)
	impostor := spiffeid.RequireFromString("spiffe://cluster.local/ns/outrider-system/sa/something-else")
	f := newProxy(t, h, pod, func(c *Config) { c.ServerID = impostor })
	f.start(t)
	time.Sleep(500 * time.Millisecond)
	if _, n := f.sink.cert(); n != 0 || strings.Contains(h.Logs.String(), `"msg":"certificate issued"`) || strings.Contains(h.Logs.String(), `"msg":"watch started"`) {
		t.Fatal("the client talked to a service with the wrong identity")
	}
}

// TestRootRotationUnderLiveTraffic: two proxies keep handshaking mutual TLS with each other
// (each presenting its current certificate and trusting its current bundle) while the root is
// rotated and both renew under the new root. No handshake may fail.
func TestRootRotationUnderLiveTraffic(t *testing.T) {
	h := identitytest.Start(t, func(o *server.Options) { o.MaxTTL = time.Hour; o.RotationPropagation = time.Second })
	h.Namespace(t, "shop", true)
	fast := func(c *Client) {
		c.after = func(d time.Duration) <-chan time.Time { return time.After(min(d, 200*time.Millisecond)) }
	}
	a := newProxy(t, h, h.Pod(t, "shop", "a-1", "a", "10.88.0.5", nil), nil)
	b := newProxy(t, h, h.Pod(t, "shop", "b-1", "b", "10.88.0.6", nil), nil)
	fast(a.client)
	fast(b.client)
	a.start(t)
	b.start(t)
	waitFor(t, 5*time.Second, "both ready", func() bool { return a.client.Ready() == nil && b.client.Ready() == nil })

	var ok, failed atomic.Int32
	stop := make(chan struct{})
	traffic := make(chan struct{})
	go func() {
		defer close(traffic)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := handshake(a.sink, b.sink); err != nil {
				failed.Add(1)
				t.Errorf("handshake failed during the rotation: %v", err)
			} else {
				ok.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	oldRoot := h.Server.CA().Root()
	annotateCA(t, h, castore.AnnotationRotate, "live-1")
	waitFor(t, 10*time.Second, "both proxies hold certificates under the new root", func() bool {
		return chainsTo(a.sink, h.Server.CA().Root()) && chainsTo(b.sink, h.Server.CA().Root()) && !h.Server.CA().Root().Equal(oldRoot)
	})
	time.Sleep(200 * time.Millisecond)
	close(stop)
	<-traffic
	t.Logf("%d handshakes during the rotation, %d failed", ok.Load(), failed.Load())
	if ok.Load() < 20 {
		t.Errorf("only %d handshakes: the traffic did not run", ok.Load())
	}
}

// handshake runs mutual TLS between two proxies' identities over a pipe.
func handshake(client, server *sink) error {
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	scfg := tlsconfig.MTLSServerConfig(server, server, tlsconfig.AuthorizeAny())
	ccfg := tlsconfig.MTLSClientConfig(client, client, tlsconfig.AuthorizeAny())
	errs := make(chan error, 1)
	go func() { errs <- tls.Server(s, scfg).Handshake() }()
	cerr := tls.Client(c, ccfg).Handshake()
	serr := <-errs
	if cerr != nil {
		return cerr
	}
	return serr
}

func chainsTo(s *sink, root *x509.Certificate) bool {
	c, n := s.cert()
	if n == 0 || len(c.Certificate) < 2 {
		return false
	}
	inter, err := x509.ParseCertificate(c.Certificate[1])
	return err == nil && inter.CheckSignatureFrom(root) == nil
}

func annotateCA(t *testing.T, h *identitytest.Harness, k, v string) {
	t.Helper()
	secrets := h.Kube.CoreV1().Secrets(identitytest.Namespace)
	sec, err := secrets.Get(context.Background(), castore.DefaultStateSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Annotations == nil {
		sec.Annotations = map[string]string{}
	}
	sec.Annotations[k] = v
	if _, err := secrets.Update(context.Background(), sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
