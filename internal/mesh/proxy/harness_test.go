package proxy_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
	"github.com/outrider-sec/outrider/internal/mesh/netnstest"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// patience bounds every wait for an event. It is generous on purpose: the tests assert that
// something happens, not how fast, and the machine may be busy.
const patience = 60 * time.Second

// The applications in every pod: a TCP echo server and an HTTP server.
const (
	appPort = 8080
	webPort = 8081
)

// mesh is a network of pods, each a namespace with capture rules, an application and
// (optionally) a proxy, and the CA that issues their identities.
type mesh struct {
	t   testing.TB
	net *netnstest.Network
	ca  *ca.CA
	td  spiffeid.TrustDomain
	// skew shifts the CA's clock, to issue certificates that are already expired.
	skew atomic.Int64

	mu   sync.Mutex
	pods []*pod
}

// pod is one namespace on the bridge.
type pod struct {
	*netnstest.Node
	m     *mesh
	id    spiffeid.ID
	proxy *proxy.Proxy
	logs  *logSink
	app   *echoServer
	web   *webServer
}

func newMesh(t testing.TB) *mesh {
	t.Helper()
	netnstest.Require(t)
	m := &mesh{t: t, net: netnstest.New(t)}
	authority, err := ca.New(ca.Config{Now: func() time.Time { return time.Now().Add(time.Duration(m.skew.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	m.ca, m.td = authority, authority.TrustDomain()
	return m
}

// podOptions adjust a pod before its proxy starts.
type podOptions struct {
	noProxy bool // an outsider: no proxy, no capture rules
	policy  *authz.Policy
	config  func(*proxy.Config)
	ttl     time.Duration
	// logAllowedEvery samples the allowed-connection log; default 1 (every one).
	logAllowedEvery int
}

// addPod creates a pod with identity spiffe://<td>/ns/<namespace>/sa/<name>, an echo server on
// appPort, capture rules and a proxy (unless noProxy). Its endpoint is added to every proxy.
func (m *mesh) addPod(name, namespace string, o podOptions) *pod {
	m.t.Helper()
	p := &pod{Node: m.net.AddNode(name), m: m, logs: &logSink{}}
	p.id = spiffeid.RequireFromPath(m.td, "/ns/"+namespace+"/sa/"+name)
	p.app = serveEcho(m.t, p.Node, appPort)
	p.web = serveWeb(m.t, p.Node, webPort)
	if o.noProxy {
		return p
	}
	p.IPTablesRestore(netnstest.CaptureRules(15006, 15001, proxy.ProxyMark))
	cfg := proxy.Config{
		NetNS:           p.Path(),
		Log:             slog.New(slog.NewJSONHandler(io.MultiWriter(p.logs, testWriter{m.t, name}), nil)),
		LogAllowedEvery: cmp.Or(o.logAllowedEvery, 1),
		ShutdownGrace:   time.Second,
	}
	if o.config != nil {
		o.config(&cfg)
	}
	px, err := proxy.New(cfg)
	if err != nil {
		m.t.Fatal(err)
	}
	p.proxy = px
	must(m.t, px.SetCertificate(m.certificate(p.id, o.ttl)))
	must(m.t, px.SetTrustBundle(m.ca.Bundle()))
	if o.policy == nil {
		o.policy = &authz.Policy{}
	}
	must(m.t, px.SetPolicy(o.policy))
	must(m.t, px.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); px.Serve(ctx) }()
	m.t.Cleanup(func() { cancel(); <-done })
	m.mu.Lock()
	m.pods = append(m.pods, p)
	m.mu.Unlock()
	m.publishEndpoints()
	return p
}

// publishEndpoints gives every proxy the address → identity map of every meshed pod, as the
// identity service will.
func (m *mesh) publishEndpoints() {
	m.mu.Lock()
	defer m.mu.Unlock()
	eps := proxy.Endpoints{}
	for _, p := range m.pods {
		eps[p.Addr] = p.id
	}
	for _, p := range m.pods {
		p.proxy.SetEndpoints(eps)
	}
}

// certificate issues an X509-SVID for id from the mesh's CA.
func (m *mesh) certificate(id spiffeid.ID, ttl time.Duration, provenance ...string) tls.Certificate {
	m.t.Helper()
	return issue(m.t, m.ca, id, ttl, provenance...)
}

func issue(t testing.TB, authority *ca.CA, id spiffeid.ID, ttl time.Duration, provenance ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	segs := strings.Split(id.Path(), "/") // "", "ns", N, "sa", S
	svid, err := authority.Issue(ca.IssueRequest{CSR: csr, Namespace: segs[2], ServiceAccount: segs[4], TTL: ttl, Provenance: provenance})
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: svid.Leaf()}
	for _, c := range svid.Certificates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert
}

// expiredCertificate issues a certificate for id that expired an hour ago.
func (m *mesh) expiredCertificate(id spiffeid.ID) tls.Certificate {
	m.skew.Store(int64(-3 * time.Hour))
	defer m.skew.Store(0)
	return m.certificate(id, time.Hour)
}

// dialMeshTLS plays a mesh client by hand from p's namespace: TLS 1.3 with the mesh's ALPN to
// target's application port, presenting cert (none if nil), without checking the server.
// It returns the error of the first exchange; nil means the echo came back.
func (p *pod) dialMeshTLS(target *pod, cert *tls.Certificate) error {
	c, err := p.dialApp(target)
	if err != nil {
		return err
	}
	defer c.Close()
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{proxy.ALPN}, InsecureSkipVerify: true}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tc := tls.Client(c, cfg)
	// In TLS 1.3 the client's handshake ends before the server has judged its certificate;
	// a refusal arrives as an alert on the first read.
	return roundTrip(tc, []byte("ping over hand-made TLS"))
}

// dialApp connects from p's namespace to target's application port, as p's application
// would: the connection goes through p's capture rules and proxy.
func (p *pod) dialApp(target *pod) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	return p.Dial(ctx, target.AddrPort(appPort))
}

// roundTrip sends msg on c and reads the echo back; an error means the exchange failed.
func roundTrip(c net.Conn, msg []byte) error {
	c.SetDeadline(time.Now().Add(patience))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo differs: got %q, want %q", got, msg)
	}
	return nil
}

// expectRefused asserts that c carries no data: the read ends with EOF or a reset, not an
// echo. A refused mesh connection is closed by a proxy after the TCP handshake succeeded.
func expectRefused(t *testing.T, c net.Conn, err error) {
	t.Helper()
	if err != nil {
		return // refused before the connection was even established
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(patience))
	c.Write([]byte("hello?"))
	buf := make([]byte, 64)
	n, rerr := c.Read(buf)
	if n > 0 {
		t.Fatalf("a refused connection returned data: %q", buf[:n])
	}
	if ne, ok := rerr.(net.Error); ok && ne.Timeout() {
		t.Fatalf("a refused connection stayed open for %s", patience)
	}
}

// echoServer is the application: it echoes every byte and records who connected.
type echoServer struct {
	mu      sync.Mutex
	remotes []string
}

func serveEcho(t testing.TB, n *netnstest.Node, port int) *echoServer {
	ln := n.Listen(fmt.Sprintf("0.0.0.0:%d", port))
	s := &echoServer{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.remotes = append(s.remotes, c.RemoteAddr().String())
			s.mu.Unlock()
			go func() {
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return s
}

func (s *echoServer) clients() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.remotes...)
}

// webServer is an HTTP application (HTTP/1.1, and HTTP/2 with prior knowledge) that answers
// "<method> <path>" and records the requests that reached it as "<method> <path> <proto>".
type webServer struct {
	mu   sync.Mutex
	seen []string
}

func serveWeb(t testing.TB, n *netnstest.Node, port int) *webServer {
	ln := n.Listen(fmt.Sprintf("0.0.0.0:%d", port))
	s := &webServer{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		line := r.Method + " " + r.URL.RequestURI()
		s.mu.Lock()
		s.seen = append(s.seen, line+" "+r.Proto)
		s.mu.Unlock()
		io.WriteString(w, line)
	})}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *webServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// httpClient makes requests from p's namespace (through its proxy). With h2 it speaks HTTP/2
// with prior knowledge. Each client keeps its connections alive.
func (p *pod) httpClient(h2 bool) *http.Client {
	tr := &http.Transport{
		DialContext:         func(ctx context.Context, _, addr string) (net.Conn, error) { return p.Dial(ctx, addr) },
		MaxIdleConnsPerHost: 1,
	}
	tr.Protocols = new(http.Protocols)
	if h2 {
		tr.Protocols.SetUnencryptedHTTP2(true)
	} else {
		tr.Protocols.SetHTTP1(true)
	}
	p.m.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: patience}
}

// logSink collects a proxy's JSON log lines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logSink) entries() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(l.buf.Bytes(), []byte("\n")) {
		var e map[string]any
		if json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// waitFor returns the first log entry with message msg whose attributes include want, waiting
// up to patience for it.
func (l *logSink) waitFor(t *testing.T, msg string, want map[string]any) map[string]any {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		for _, e := range l.entries() {
			if e["msg"] == msg && matches(e, want) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q log entry with %v within %s", msg, want, patience)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func matches(e map[string]any, want map[string]any) bool {
	for k, v := range want {
		if fmt.Sprint(e[k]) != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

// testWriter sends log lines to t.Log, prefixed with the pod, so a failing test shows them.
type testWriter struct {
	t    testing.TB
	name string
}

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, bytes.TrimSpace(b))
	return len(b), nil
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// waitUntil polls cond until it holds, failing the test after patience.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", patience, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
