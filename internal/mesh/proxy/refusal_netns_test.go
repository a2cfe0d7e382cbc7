package proxy_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// TestClientWithoutCertificateIsRefused: a client that speaks the mesh's TLS but presents no
// certificate gets no data through.
func TestClientWithoutCertificateIsRefused(t *testing.T) {
	m := newMesh(t)
	outsider := m.addPod("outsider", "shop", podOptions{noProxy: true})
	server := m.addPod("backend", "shop", podOptions{})

	if err := outsider.dialMeshTLS(server, nil); err == nil {
		t.Fatal("a client without a certificate got its echo")
	}
	e := server.logs.waitFor(t, "connection denied", map[string]any{"reason": "handshake-failed", "port": appPort})
	if d, _ := e["detail"].(string); !strings.Contains(d, "certificate") {
		t.Errorf("denial detail %q does not mention the missing certificate", d)
	}
}

// TestPlaintextClientIsRefused: plain text on a captured port, from outside the mesh, is
// refused when the policy is not permissive, even by a workload no policy selects.
func TestPlaintextClientIsRefused(t *testing.T) {
	m := newMesh(t)
	outsider := m.addPod("outsider", "shop", podOptions{noProxy: true})
	server := m.addPod("backend", "shop", podOptions{})

	c, err := outsider.dialApp(server)
	expectRefused(t, c, err)
	server.logs.waitFor(t, "connection denied", map[string]any{"peer": "plaintext", "reason": authz.ReasonPlaintext, "port": appPort})
}

// TestPermissivePolicyLetsPlaintextThrough is the migration mode: plain text reaches the
// application, and meshed peers still use mutual TLS.
func TestPermissivePolicyLetsPlaintextThrough(t *testing.T) {
	m := newMesh(t)
	outsider := m.addPod("outsider", "shop", podOptions{noProxy: true})
	client := m.addPod("frontend", "shop", podOptions{})
	server := m.addPod("backend", "shop", podOptions{policy: &authz.Policy{Permissive: true}})

	for _, from := range []*pod{outsider, client} {
		c, err := from.dialApp(server)
		must(t, err)
		must(t, roundTrip(c, []byte("hello during the migration")))
		c.Close()
	}
	server.logs.waitFor(t, "connection allowed", map[string]any{"peer": "plaintext", "reason": authz.ReasonUnselected})
	server.logs.waitFor(t, "connection allowed", map[string]any{"peer": client.id, "reason": authz.ReasonUnselected})
}

// TestExpiredCertificateIsRefused: a certificate from the right CA for an allowed identity,
// but expired, is refused.
func TestExpiredCertificateIsRefused(t *testing.T) {
	m := newMesh(t)
	outsider := m.addPod("outsider", "shop", podOptions{noProxy: true})
	frontend := spiffeid.RequireFromPath(m.td, "/ns/shop/sa/frontend")
	server := m.addPod("backend", "shop", podOptions{policy: onlyFrom(frontend.String())})

	expired := m.expiredCertificate(frontend)
	if err := outsider.dialMeshTLS(server, &expired); err == nil {
		t.Fatal("an expired certificate got its echo")
	}
	e := server.logs.waitFor(t, "connection denied", map[string]any{"reason": "handshake-failed"})
	if d, _ := e["detail"].(string); !strings.Contains(d, "expired") {
		t.Errorf("denial detail %q does not say the certificate expired", d)
	}
	// The same identity with a valid certificate passes: the refusal was the expiry.
	valid := m.certificate(frontend, 0)
	must(t, outsider.dialMeshTLS(server, &valid))
}

// TestForeignCACertificateIsRefused: a certificate for an allowed identity in the same trust
// domain, signed by another CA, is refused.
func TestForeignCACertificateIsRefused(t *testing.T) {
	m := newMesh(t)
	outsider := m.addPod("outsider", "shop", podOptions{noProxy: true})
	frontend := spiffeid.RequireFromPath(m.td, "/ns/shop/sa/frontend")
	server := m.addPod("backend", "shop", podOptions{policy: onlyFrom(frontend.String())})

	foreign, err := ca.New(ca.Config{})
	must(t, err)
	forged := issue(t, foreign, frontend, 0)
	if err := outsider.dialMeshTLS(server, &forged); err == nil {
		t.Fatal("a certificate from a foreign CA got its echo")
	}
	e := server.logs.waitFor(t, "connection denied", map[string]any{"reason": "handshake-failed"})
	if d, _ := e["detail"].(string); !strings.Contains(d, "unknown authority") {
		t.Errorf("denial detail %q does not name the unknown authority", d)
	}
	valid := m.certificate(frontend, 0)
	must(t, outsider.dialMeshTLS(server, &valid))
}

// TestOutboundRefusesServerWithWrongIdentity: the client's proxy expects a given identity at
// the server's address; a server presenting another (valid) identity is refused before the
// application's first byte reaches it.
func TestOutboundRefusesServerWithWrongIdentity(t *testing.T) {
	m := newMesh(t)
	client := m.addPod("frontend", "shop", podOptions{})
	impostor := m.addPod("impostor", "shop", podOptions{})
	payments := spiffeid.RequireFromPath(m.td, "/ns/shop/sa/payments")
	client.proxy.SetEndpoints(proxy.Endpoints{impostor.Addr: payments})

	c, err := client.dialApp(impostor)
	expectRefused(t, c, err)
	e := client.logs.waitFor(t, "connection denied", map[string]any{"direction": "outbound", "peer": payments, "reason": "server-identity-mismatch"})
	if d, _ := e["detail"].(string); !strings.Contains(d, impostor.id.String()) {
		t.Errorf("denial detail %q does not name the identity the server presented", d)
	}
	if got := impostor.app.clients(); len(got) != 0 {
		t.Errorf("the impostor's application was reached by %v", got)
	}
}

// TestEgressSetting: a destination outside the mesh is passed through in plain text with
// --egress=allow and refused with --egress=deny.
func TestEgressSetting(t *testing.T) {
	m := newMesh(t)
	outside := m.addPod("outside", "web", podOptions{noProxy: true})
	open := m.addPod("open", "shop", podOptions{})
	closed := m.addPod("closed", "shop", podOptions{config: func(c *proxy.Config) { c.Egress = proxy.EgressDeny }})

	c, err := open.dialApp(outside)
	must(t, err)
	must(t, roundTrip(c, []byte("to the outside world")))
	c.Close()

	c, err = closed.dialApp(outside)
	expectRefused(t, c, err)
	closed.logs.waitFor(t, "connection denied", map[string]any{"direction": "outbound", "reason": "egress-denied", "remote": outside.AddrPort(appPort)})
}

// TestAppCannotLoopThroughProxyPorts: an application that connects to the proxy's listeners
// directly (not redirected) is refused, and the proxy does not connect to itself.
func TestAppCannotLoopThroughProxyPorts(t *testing.T) {
	m := newMesh(t)
	client := m.addPod("frontend", "shop", podOptions{})
	server := m.addPod("backend", "shop", podOptions{})

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, err := client.Dial(ctx, "127.0.0.1:15001")
	expectRefused(t, c, err)
	client.logs.waitFor(t, "connection denied", map[string]any{"direction": "outbound", "reason": "not-redirected"})

	// The inbound port, from another pod: redirected to itself, so its original port is the
	// proxy's own.
	c, err = client.Dial(ctx, server.AddrPort(15006))
	expectRefused(t, c, err)
}

// TestGarbageOnInboundPortDoesNotCrashProxy throws malformed and hostile openings at the
// inbound port, then checks that a mesh client still gets through.
func TestGarbageOnInboundPortDoesNotCrashProxy(t *testing.T) {
	m := newMesh(t)
	outsider := m.addPod("outsider", "shop", podOptions{noProxy: true})
	client := m.addPod("frontend", "shop", podOptions{})
	server := m.addPod("backend", "shop", podOptions{config: func(c *proxy.Config) { c.SniffTimeout = 500 * time.Millisecond }})

	hello := clientHelloBytes(t)
	openings := map[string][]byte{
		"random":                    []byte("\x00\xff\x16\x03\x01garbage\r\n\r\n"),
		"handshake record, no body": {0x16, 0x03, 0x01},
		"oversized record":          {0x16, 0x03, 0x01, 0xff, 0xff, 0x01},
		"zero-length record":        {0x16, 0x03, 0x03, 0x00, 0x00},
		"not a ClientHello":         {0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00},
		"truncated ClientHello":     hello[:len(hello)/2],
		"ClientHello then garbage":  append(append([]byte(nil), hello...), []byte("\x17\x03\x03\x00\x10not-a-finished!!")...),
		"HTTP request":              []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"huge length header":        append([]byte{0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0xff, 0xff, 0xff}, make([]byte, 1024)...),
	}
	for name, b := range openings {
		c, err := outsider.dialApp(server)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c.SetDeadline(time.Now().Add(patience))
		c.Write(b)
		buf := make([]byte, 256)
		n, _ := c.Read(buf) // the proxy must close; a ServerHello or an alert is fine, an echo is not
		if n > 0 && bytes.HasPrefix(b, buf[:n]) {
			t.Errorf("%s: the application echoed %q", name, buf[:n])
		}
		c.Close()
	}
	// A client that opens and says nothing, and one that half-closes at once.
	for i := 0; i < 3; i++ {
		c, err := outsider.dialApp(server)
		must(t, err)
		if i == 1 {
			c.(*net.TCPConn).CloseWrite()
		}
		c.Close()
	}
	c, err := client.dialApp(server)
	must(t, err)
	defer c.Close()
	must(t, roundTrip(c, []byte("still alive")))
}

// clientHelloBytes captures a real mesh ClientHello.
func clientHelloBytes(t *testing.T) []byte {
	a, b := net.Pipe()
	defer a.Close()
	go tls.Client(b, &tls.Config{NextProtos: []string{proxy.ALPN}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}).Handshake()
	buf := make([]byte, 4096)
	a.SetReadDeadline(time.Now().Add(patience))
	n, err := a.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	return buf[:n]
}
