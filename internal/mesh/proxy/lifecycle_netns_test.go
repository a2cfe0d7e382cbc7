package proxy_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRevokedPolicyClosesOpenConnection: a policy push that no longer allows an open
// connection's peer closes that connection; one that still allows it leaves it alone.
func TestRevokedPolicyClosesOpenConnection(t *testing.T) {
	m := newMesh(t)
	client := m.addPod("frontend", "shop", podOptions{})
	other := m.addPod("other", "shop", podOptions{})
	server := m.addPod("backend", "shop", podOptions{policy: onlyFrom(client.id.String())})

	c, err := client.dialApp(server)
	must(t, err)
	defer c.Close()
	must(t, roundTrip(c, []byte("before the change")))

	// Still allowed (by namespace now): the connection stays up.
	must(t, server.proxy.SetPolicy(onlyFrom("spiffe://cluster.local/ns/shop/*")))
	must(t, roundTrip(c, []byte("after a change that still allows me")))

	must(t, server.proxy.SetPolicy(onlyFrom(other.id.String())))
	server.logs.waitFor(t, "connection revoked", map[string]any{"peer": client.id, "local": server.id, "port": appPort})
	if v := metricValue(t, server, "outrider_proxy_connections_revoked_total", nil); v != 1 {
		t.Errorf("outrider_proxy_connections_revoked_total = %v, want 1", v)
	}
	c.SetDeadline(time.Now().Add(patience))
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	var ne net.Error
	if n > 0 || err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("the revoked connection is still open: read %d bytes, err %v", n, err)
	}
	c2, err := client.dialApp(server)
	expectRefused(t, c2, err)
}

// TestCertificateRotationUnderLoadLosesNoRequest runs traffic for longer than a one-minute
// certificate lives, renewing both proxies' certificates every 20–25 s (before half-life, with
// jitter, as the identity client will). New connections, resumed sessions and one connection
// opened before the first rotation must all keep working: not one request may fail.
func TestCertificateRotationUnderLoadLosesNoRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 80 s of real time so that one-minute certificates expire")
	}
	t.Parallel()
	m := newMesh(t)
	client := m.addPod("frontend", "shop", podOptions{ttl: time.Minute, logAllowedEvery: 1000})
	server := m.addPod("backend", "shop", podOptions{ttl: time.Minute, logAllowedEvery: 1000, policy: onlyFrom(client.id.String())})
	start := time.Now()
	const runFor = 80 * time.Second // the first certificates expire at start+60s

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var rotations atomic.Int64
	for _, p := range []*pod{client, server} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(20*time.Second + rand.N(5*time.Second)):
				}
				if err := p.proxy.SetCertificate(m.certificate(p.id, time.Minute)); err != nil {
					t.Errorf("renewing %s: %v", p.id, err)
				}
				rotations.Add(1)
			}
		}()
	}

	var ok, okAfterExpiry, failed atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err)
	}
	// Short connections: a new handshake (often a resumption) per request.
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c, err := client.dialApp(server)
				if err != nil {
					fail(err)
					continue
				}
				if err := roundTrip(c, fmt.Appendf(nil, "worker %d request %d", w, i)); err != nil {
					fail(fmt.Errorf("at %s: %w", time.Since(start).Round(time.Millisecond), err))
				} else {
					ok.Add(1)
					if time.Since(start) > time.Minute+time.Second {
						okAfterExpiry.Add(1)
					}
				}
				c.Close()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	// One long connection, set up with the first certificates, outliving them.
	long, err := client.dialApp(server)
	must(t, err)
	defer long.Close()
	var longOK atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if err := roundTrip(long, fmt.Appendf(nil, "long request %d", i)); err != nil {
				fail(fmt.Errorf("long connection at %s: %w", time.Since(start).Round(time.Millisecond), err))
				return
			}
			longOK.Add(1)
		}
	}()

	time.Sleep(runFor)
	close(stop)
	wg.Wait()
	t.Logf("%d requests on short connections, %d on the long one, %d rotations, %d failed", ok.Load(), longOK.Load(), rotations.Load(), failed.Load())
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d requests failed; first: %v", n, firstErr.Load())
	}
	// Handshakes that succeed after the first certificates expired prove the renewed ones
	// were in use; the long connection proves open connections outlive their certificate.
	if rotations.Load() < 4 || okAfterExpiry.Load() == 0 || longOK.Load() == 0 {
		t.Fatalf("the test did not exercise rotation under load: %d rotations, %d requests after the first certificates expired, %d on the long connection",
			rotations.Load(), okAfterExpiry.Load(), longOK.Load())
	}
}
