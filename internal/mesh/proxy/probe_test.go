package proxy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// These tests run in the test's own network namespace: the proxy only dials 127.0.0.1 here,
// and sets no mark (Mark -1), so nothing outside the test sees a packet.

// appServer is the application's probe endpoints: /ok answers 200, /fail 500, /redirect a 302
// to redirectTo, /hang never before the client goes. It records every request.
type appServer struct {
	*httptest.Server
	redirectTo string

	mu       sync.Mutex
	requests []*http.Request
}

func newAppServer(t *testing.T, tlsOn bool) *appServer {
	a := &appServer{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.requests = append(a.requests, r.Clone(context.Background()))
		a.mu.Unlock()
		switch r.URL.Path {
		case "/ok":
			fmt.Fprintln(w, "fine")
		case "/fail":
			http.Error(w, "broken", http.StatusInternalServerError)
		case "/redirect":
			http.Redirect(w, r, a.redirectTo, http.StatusFound)
		case "/hang":
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	})
	if tlsOn {
		a.Server = httptest.NewTLSServer(h)
	} else {
		a.Server = httptest.NewServer(h)
	}
	t.Cleanup(a.Close)
	return a
}

func (a *appServer) port(t *testing.T) uint16 {
	t.Helper()
	return portOfAddr(t, a.Listener.Addr().String())
}

func (a *appServer) seen() []*http.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*http.Request(nil), a.requests...)
}

func portOfAddr(t *testing.T, addr string) uint16 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	must(t, err)
	n, err := strconv.ParseUint(p, 10, 16)
	must(t, err)
	return uint16(n)
}

// sentinel is a listener nothing may reach; it counts the connections it accepts.
type sentinel struct {
	ln       net.Listener
	accepted atomic.Int32
}

func newSentinel(t *testing.T, addr string) *sentinel {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	must(t, err)
	s := &sentinel{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

// closedPort returns a port on 127.0.0.1 that nothing listens on.
func closedPort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := portOfAddr(t, ln.Addr().String())
	ln.Close()
	return port
}

// probeServer runs the proxy's probe server on 127.0.0.1.
func probeServer(t *testing.T, p *proxy.Proxy, o proxy.ProbeOptions) *httptest.Server {
	t.Helper()
	srv, err := p.ProbeServer(o)
	must(t, err)
	s := httptest.NewUnstartedServer(nil)
	s.Config = srv
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func probeGet(t *testing.T, base, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: patience}
	resp, err := c.Get(base + path)
	must(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func newUnmarkedProxy(t *testing.T) *proxy.Proxy {
	t.Helper()
	p, err := proxy.New(proxy.Config{Mark: -1})
	must(t, err)
	return p
}

// TestProbeReadyFollowsTheProxy: /healthz/ready is 503 until the proxy has a certificate, a
// bundle and a policy, 200 then, and 503 again once it drains.
func TestProbeReadyFollowsTheProxy(t *testing.T) {
	p := newUnmarkedProxy(t)
	s := probeServer(t, p, proxy.ProbeOptions{})
	if code, body := probeGet(t, s.URL, "/healthz/ready"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no certificate") {
		t.Fatalf("before setup: %d %q, want 503 naming what is missing", code, body)
	}
	authority, err := ca.New(ca.Config{})
	must(t, err)
	must(t, p.SetCertificate(issue(t, authority, spiffeid.RequireFromPath(authority.TrustDomain(), "/ns/shop/sa/backend"), time.Hour)))
	must(t, p.SetTrustBundle(authority.Bundle()))
	if code, body := probeGet(t, s.URL, "/healthz/ready"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no policy") {
		t.Fatalf("without a policy: %d %q, want 503", code, body)
	}
	must(t, p.SetPolicy(&authz.Policy{}))
	if code, body := probeGet(t, s.URL, "/healthz/ready"); code != http.StatusOK {
		t.Fatalf("ready proxy: %d %q, want 200", code, body)
	}
	p.Drain()
	if code, _ := probeGet(t, s.URL, "/healthz/ready"); code != http.StatusServiceUnavailable {
		t.Fatalf("draining proxy: %d, want 503", code)
	}
}

// TestProbeReadyUsesTheGivenCheck: a Ready function replaces the proxy's own check (the
// identity client's, in `outrider proxy`).
func TestProbeReadyUsesTheGivenCheck(t *testing.T) {
	var ready atomic.Bool
	s := probeServer(t, newUnmarkedProxy(t), proxy.ProbeOptions{Ready: func() error {
		if ready.Load() {
			return nil
		}
		return fmt.Errorf("no certificate yet")
	}})
	if code, _ := probeGet(t, s.URL, "/healthz/ready"); code != http.StatusServiceUnavailable {
		t.Fatalf("got %d, want 503", code)
	}
	ready.Store(true)
	if code, _ := probeGet(t, s.URL, "/healthz/ready"); code != http.StatusOK {
		t.Fatalf("got %d, want 200", code)
	}
}

// TestAppHealth performs the application's original probes: httpGet (HTTP and HTTPS, the
// kubelet's 200-399 rule, headers and Host passed, redirects not followed) and tcpSocket.
func TestAppHealth(t *testing.T) {
	app := newAppServer(t, false)
	secure := newAppServer(t, true)
	listening, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { listening.Close() })
	go func() {
		for {
			c, err := listening.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	elsewhere := newSentinel(t, "127.0.0.1:0")
	app.redirectTo = "http://" + elsewhere.ln.Addr().String() + "/ok"

	hdr := http.Header{"X-Probe": {"from-the-spec"}, "Host": {"app.example"}}
	s := probeServer(t, newUnmarkedProxy(t), proxy.ProbeOptions{App: map[string]proxy.AppProbe{
		"/app-health/app/readyz":   {Port: app.port(t), HTTP: &proxy.AppHTTPProbe{Path: "/ok?depth=1", Headers: hdr}},
		"/app-health/app/livez":    {Port: app.port(t), HTTP: &proxy.AppHTTPProbe{Path: "/fail"}},
		"/app-health/app/startupz": {Port: app.port(t), HTTP: &proxy.AppHTTPProbe{Path: "/redirect"}},
		"/app-health/tls/readyz":   {Port: secure.port(t), HTTP: &proxy.AppHTTPProbe{Path: "/ok", HTTPS: true}},
		"/app-health/tls/livez":    {Port: secure.port(t), HTTP: &proxy.AppHTTPProbe{Path: "/fail", HTTPS: true}},
		"/app-health/gone/readyz":  {Port: closedPort(t), HTTP: &proxy.AppHTTPProbe{Path: "/ok"}},
		"/app-health/tcp/readyz":   {Port: portOfAddr(t, listening.Addr().String())},
		"/app-health/tcp/livez":    {Port: closedPort(t)},
	}})

	for _, tc := range []struct {
		path string
		want int
	}{
		{"/app-health/app/readyz", 200},
		{"/app-health/app/livez", 503},
		{"/app-health/app/startupz", 200}, // a 3xx is a success, and not followed
		{"/app-health/tls/readyz", 200},
		{"/app-health/tls/livez", 503},
		{"/app-health/gone/readyz", 503},
		{"/app-health/tcp/readyz", 200},
		{"/app-health/tcp/livez", 503},
		{"/app-health/app/other", 404},
		{"/app-health/app", 404},
		{"/app-health/", 404},
		{"/", 404},
	} {
		if code, body := probeGet(t, s.URL, tc.path); code != tc.want {
			t.Errorf("GET %s: %d %q, want %d", tc.path, code, body, tc.want)
		}
	}

	var first *http.Request
	for _, r := range app.seen() {
		if r.URL.Path == "/ok" {
			first = r
		}
	}
	if first == nil {
		t.Fatal("the application never saw the readiness probe")
	}
	if first.Host != "app.example" || first.Header.Get("X-Probe") != "from-the-spec" || first.URL.RawQuery != "depth=1" {
		t.Errorf("the application saw Host %q, X-Probe %q, query %q; want the probe's", first.Host, first.Header.Get("X-Probe"), first.URL.RawQuery)
	}
	if ua := first.UserAgent(); !strings.HasPrefix(ua, "kube-probe/") {
		t.Errorf("User-Agent %q, want kube-probe/…", ua)
	}
	if n := elsewhere.accepted.Load(); n != 0 {
		t.Errorf("the redirect's target was contacted %d times", n)
	}
}

// TestAppHealthTimeout: a probe that does not answer fails within the request's timeout, and
// the default applies without one.
func TestAppHealthTimeout(t *testing.T) {
	app := newAppServer(t, false)
	s := probeServer(t, newUnmarkedProxy(t), proxy.ProbeOptions{Timeout: 300 * time.Millisecond, App: map[string]proxy.AppProbe{
		"/app-health/app/livez": {Port: app.port(t), HTTP: &proxy.AppHTTPProbe{Path: "/hang"}},
	}})
	for _, path := range []string{"/app-health/app/livez", "/app-health/app/livez?timeout=200ms", "/app-health/app/livez?timeout=1"} {
		start := time.Now()
		code, body := probeGet(t, s.URL, path)
		if code != http.StatusServiceUnavailable || time.Since(start) > 5*time.Second {
			t.Errorf("GET %s: %d %q after %s, want 503 at its timeout", path, code, body, time.Since(start))
		}
	}
	for _, path := range []string{"/app-health/app/livez?timeout=forever", "/app-health/app/livez?timeout=-1s", "/app-health/app/livez?timeout=1h"} {
		if code, _ := probeGet(t, s.URL, path); code != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", path, code)
		}
	}
}

// TestProbeServerRefusesABadTable: every entry must be an /app-health/ path with a port.
func TestProbeServerRefusesABadTable(t *testing.T) {
	p := newUnmarkedProxy(t)
	for name, table := range map[string]map[string]proxy.AppProbe{
		"other path": {"/healthz/ready": {Port: 80}},
		"no port":    {"/app-health/a/readyz": {}},
	} {
		if _, err := p.ProbeServer(proxy.ProbeOptions{App: table}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// rawRequest sends one request line and headers as given and returns the status code.
func rawRequest(t *testing.T, addr, requestLine string, headers ...string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, patience)
	must(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(patience))
	msg := requestLine + "\r\n"
	hasHost := false
	for _, h := range headers {
		msg += h + "\r\n"
		hasHost = hasHost || strings.HasPrefix(strings.ToLower(h), "host:")
	}
	if !hasHost {
		msg += "Host: probe\r\n"
	}
	msg += "Connection: close\r\n\r\n"
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", requestLine, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestProbePortCannotBeUsedToReachOtherAddresses: whoever reaches the probe port (any peer
// can reach a pod's port) cannot make the proxy connect anywhere its table does not name, nor
// reach the admin API: traversal and encoded paths, absolute URLs and authorities in the
// request line, a Host header, query parameters, CONNECT, other methods and a redirect from
// the application all fail or probe exactly the table's target.
func TestProbePortCannotBeUsedToReachOtherAddresses(t *testing.T) {
	app := newAppServer(t, false)
	sameHost := newSentinel(t, "127.0.0.1:0")
	otherHost := newSentinel(t, "127.0.0.2:0")
	app.redirectTo = "http://" + otherHost.ln.Addr().String() + "/ok"
	appAddr := app.Listener.Addr().String()
	s := probeServer(t, newUnmarkedProxy(t), proxy.ProbeOptions{App: map[string]proxy.AppProbe{
		"/app-health/app/readyz": {Port: app.port(t), HTTP: &proxy.AppHTTPProbe{Path: "/ok"}},
		"/app-health/app/livez":  {Port: app.port(t), HTTP: &proxy.AppHTTPProbe{Path: "/redirect"}},
	}})
	addr := s.Listener.Addr().String()
	near, far := sameHost.ln.Addr().String(), otherHost.ln.Addr().String()
	_, nearPort, _ := net.SplitHostPort(near)

	for _, tc := range []struct {
		line    string
		headers []string
		want    int
	}{
		// Paths that are not exactly a table entry.
		{line: "GET /app-health/app/readyz/../../../x HTTP/1.1", want: 404},
		{line: "GET /app-health/../app-health/app/readyz HTTP/1.1", want: 404},
		{line: "GET /app-health/./app/readyz HTTP/1.1", want: 404},
		{line: "GET /app-health//app/readyz HTTP/1.1", want: 404},
		{line: "GET /app-health/app%2Freadyz HTTP/1.1", want: 404},
		{line: "GET /app-health/%61pp/readyz HTTP/1.1", want: 404},
		{line: "GET /app-health/app/readyz%3Fport=" + nearPort + " HTTP/1.1", want: 404},
		{line: "GET /app-health/app/readyz/ HTTP/1.1", want: 404},
		{line: "GET /APP-HEALTH/app/readyz HTTP/1.1", want: 404},
		{line: "GET //" + far + "/app-health/app/readyz HTTP/1.1", want: 404},
		// Request targets that name another place.
		{line: "GET http://" + far + "/app-health/app/readyz HTTP/1.1", want: 400},
		{line: "GET http://" + near + "/app-health/app/readyz HTTP/1.1", want: 400},
		{line: "CONNECT " + far + " HTTP/1.1", want: 400},
		{line: "OPTIONS * HTTP/1.1", want: 400},
		// Other methods.
		{line: "POST /app-health/app/readyz HTTP/1.1", headers: []string{"Content-Length: 0"}, want: 405},
		{line: "DELETE /app-health/app/readyz HTTP/1.1", want: 405},
		// The admin API and the metrics are not here.
		{line: "POST /drain HTTP/1.1", headers: []string{"Content-Length: 0"}, want: 405},
		{line: "GET /drain HTTP/1.1", want: 404},
		{line: "GET /config HTTP/1.1", want: 404},
		{line: "GET /certs HTTP/1.1", want: 404},
		{line: "GET /readyz HTTP/1.1", want: 404},
		{line: "GET /metrics HTTP/1.1", want: 404},
		// Allowed requests that try to steer the probe: they probe the table's target only.
		{line: "GET /app-health/app/readyz HTTP/1.1", headers: []string{"Host: " + far}, want: 200},
		{line: "GET /app-health/app/readyz HTTP/1.1", headers: []string{"Host: " + near, "X-Forwarded-Host: " + far, "Forwarded: host=" + far}, want: 200},
		{line: "GET /app-health/app/readyz?host=127.0.0.2&port=" + nearPort + "&path=/x&scheme=https&url=http://" + far + " HTTP/1.1", want: 200},
		{line: "GET /app-health/app/readyz HTTP/1.0", want: 200},
		{line: "GET /app-health/app/livez HTTP/1.1", want: 200}, // the app's redirect to far is not followed
	} {
		if got := rawRequest(t, addr, tc.line, tc.headers...); got != tc.want {
			t.Errorf("%q %v: %d, want %d", tc.line, tc.headers, got, tc.want)
		}
	}

	if n, m := sameHost.accepted.Load(), otherHost.accepted.Load(); n != 0 || m != 0 {
		t.Errorf("the proxy connected to addresses outside its table: %d times to %s, %d to %s", n, near, m, far)
	}
	for _, r := range app.seen() {
		if r.Host != appAddr || (r.URL.Path != "/ok" && r.URL.Path != "/redirect") || r.URL.RawQuery != "" {
			t.Errorf("the application saw %s %s (Host %q), want only the table's requests to %s", r.Method, r.URL, r.Host, appAddr)
		}
	}
}
