package proxycmd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/identity/identitytest"
	"github.com/outrider-sec/outrider/internal/mesh/appprobe"
	"github.com/outrider-sec/outrider/internal/mesh/inject"
	"github.com/outrider-sec/outrider/internal/mesh/netnstest"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// captureProxyRun replaces proxyRun with one that records what the command would run.
func captureProxyRun(t *testing.T) (*proxy.Config, *proxyOptions) {
	var (
		cfg proxy.Config
		o   proxyOptions
	)
	orig := proxyRun
	proxyRun = func(_ context.Context, c proxy.Config, opts proxyOptions, _ *slog.Logger) error {
		cfg, o = c, opts
		return nil
	}
	t.Cleanup(func() { proxyRun = orig })
	return &cfg, &o
}

// TestProxyAppProbesEnvErrors: a bad OUTRIDER_APP_PROBES stops the proxy at start with a
// usage error that names the variable, and so do probes with no probe server to answer them.
func TestProxyAppProbesEnvErrors(t *testing.T) {
	captureProxyRun(t)
	for _, tc := range []struct{ env, addr string }{
		{`{"/app-health/app/readyz":`, ":15021"},
		{`{"/healthz/ready":{"tcpSocket":{"port":8080}}}`, ":15021"},
		{`{"/app-health/app/readyz":{"tcpSocket":{"port":0}}}`, ":15021"},
		{`{"/app-health/app/readyz":{"httpGet":{"port":8080,"scheme":"FTP"}}}`, ":15021"},
		{`{"/app-health/app/readyz":{"httpGet":{"port":8080},"tcpSocket":{"port":8080}}}`, ":15021"},
		{`{"/app-health/app/readyz":{"exec":{}}}`, ":15021"},
		{`{"/app-health/app/readyz":{"tcpSocket":{"port":8080}}}`, ""},
	} {
		t.Setenv(appprobe.Env, tc.env)
		_, err := execProxy(context.Background(), "--probe-addr", tc.addr)
		var exit *command.ExitError
		if !errors.As(err, &exit) || exit.Code != 2 || !strings.Contains(err.Error(), appprobe.Env) {
			t.Errorf("%s=%s --probe-addr=%q: %v, want a usage error naming the variable", appprobe.Env, tc.env, tc.addr, err)
		}
	}
}

// TestProxyMarkFlag: --mark reaches the proxy's configuration; -1 sets none.
func TestProxyMarkFlag(t *testing.T) {
	cfg, _ := captureProxyRun(t)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, proxy.ProxyMark},
		{[]string{"--mark=-1"}, -1},
		{[]string{"--mark=0x42"}, 0x42},
	} {
		if _, err := execProxy(context.Background(), tc.args...); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if cfg.Mark != tc.want {
			t.Errorf("%v: Config.Mark %d, want %d", tc.args, cfg.Mark, tc.want)
		}
	}
}

// TestProxyAcceptsTheInjectorsArguments runs the sidecar binary's command with the command line
// and environment the injector gives the proxy container, and checks what reaches the proxy.
func TestProxyAcceptsTheInjectorsArguments(t *testing.T) {
	injector := inject.Config{
		Image: "outrider@sha256:0", IdentityAddress: "10.96.0.15:15012", BundleConfigMap: "outrider-trust-bundle",
		IdentityID: "spiffe://cluster.local/ns/outrider-system/sa/outrider-identity", LogLevel: "debug",
	}
	app := corev1.Container{
		Name:  "app",
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: "/ready", Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTPS,
			HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Probe", Value: "1"}},
		}}},
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9000)}}},
	}
	spec, _ := injector.Inject(&corev1.PodSpec{Containers: []corev1.Container{app}})
	var ctr *corev1.Container
	for i := range spec.InitContainers {
		if spec.InitContainers[i].Name == inject.ProxyContainer {
			ctr = &spec.InitContainers[i]
		}
	}
	// The container runs this package's binary (cmd/outrider-proxy) with the flags as arguments.
	if ctr == nil || len(ctr.Command) != 1 || ctr.Command[0] != "/"+BinaryName {
		t.Fatalf("no proxy container running /%s in %+v", BinaryName, spec.InitContainers)
	}
	t.Setenv(appprobe.Env, "")
	for _, e := range ctr.Env {
		if e.ValueFrom == nil {
			t.Setenv(e.Name, e.Value)
		}
	}

	cfg, o := captureProxyRun(t)
	var stderr bytes.Buffer
	s := command.Streams{In: strings.NewReader(""), Out: io.Discard, Err: &stderr}
	if code := command.Execute(context.Background(), NewRoot(s), ctr.Args, s); code != 0 {
		t.Fatalf("%s %s: exit code %d\n%s", ctr.Command[0], strings.Join(ctr.Args, " "), code, stderr.String())
	}
	if cfg.Mark != -1 || o.probeAddr != fmt.Sprintf(":%d", inject.ProbePort) || o.adminSocket != inject.AdminSock {
		t.Errorf("mark %d, probe address %q, admin socket %q", cfg.Mark, o.probeAddr, o.adminSocket)
	}
	if o.identity.Address != injector.IdentityAddress || o.identity.ServerID.String() != injector.IdentityID ||
		o.identity.TokenFile != inject.TokenFile || o.identity.BundleFile != inject.BundleFile {
		t.Errorf("identity client: %+v", o.identity)
	}
	want := map[string]proxy.AppProbe{
		"/app-health/app/readyz": {Port: 8080, HTTP: &proxy.AppHTTPProbe{Path: "/ready", HTTPS: true, Headers: http.Header{"X-Probe": {"1"}}}},
		"/app-health/app/livez":  {Port: 9000},
	}
	if diff := cmp.Diff(want, o.appProbes); diff != "" {
		t.Errorf("application probes (-want +got):\n%s", diff)
	}
}

// lockedBuffer collects the command's logs while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveTCP accepts connections on ln until the test ends, handing each to handle.
func serveTCP(ln net.Listener, handle func(net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); handle(c) }()
		}
	}()
}

// TestProxyCommandIdentityMode runs `outrider proxy` in identity mode inside a pod's network
// namespace, with capture rules and --egress deny, against a real identity service
// (identitytest: gRPC over TLS, the CA, TokenReview on a fake API server) that the pod reaches
// over the pod network. Until the kubelet's token appears the proxy is not ready; then it
// obtains its certificate, bundle and policy, /healthz/ready turns 200, and a meshed peer gets
// through mutual TLS with the certificate the service issued for the pod. The connection to the
// service is the proxy's own (marked), so egress deny does not stop it. The probe server
// performs the application's probes from OUTRIDER_APP_PROBES.
func TestProxyCommandIdentityMode(t *testing.T) {
	netnstest.Require(t)
	h := identitytest.Start(t, nil)
	h.Namespace(t, "shop", true)
	n := netnstest.New(t)
	pod, peer, svc := n.AddNode("backend"), n.AddNode("frontend"), n.AddNode("identity")

	// The service's address on the pod network forwards to the harness on loopback.
	serveTCP(svc.Listen(svc.AddrPort(15012)), func(c net.Conn) {
		up, err := net.Dial("tcp", h.Addr)
		if err != nil {
			return
		}
		defer up.Close()
		go io.Copy(up, c)
		io.Copy(c, up)
	})
	podObj := h.Pod(t, "shop", "backend-1", "backend", pod.Addr.String(), nil)
	pod.IPTablesRestore(netnstest.CaptureRules(15006, 15001, proxy.ProxyMark))
	serveTCP(pod.Listen("127.0.0.1:8080"), func(c net.Conn) { io.Copy(c, c) })

	dir := t.TempDir()
	tokenFile, bundleFile := filepath.Join(dir, "token"), filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(bundleFile, h.BundlePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(appprobe.Env, `{"/app-health/app/livez":{"tcpSocket":{"port":8080}},"/app-health/app/readyz":{"httpGet":{"port":8081,"path":"/ready"}}}`)
	orig := proxyRun
	proxyRun = func(ctx context.Context, cfg proxy.Config, o proxyOptions, log *slog.Logger) error {
		cfg.NetNS = pod.Path()
		return runProxy(ctx, cfg, o, log)
	}
	t.Cleanup(func() { proxyRun = orig })

	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- execProxyLogging(ctx, logs,
			"--identity-address", svc.AddrPort(15012), "--identity-id", h.ServerID.String(),
			"--identity-token", tokenFile, "--bootstrap-bundle", bundleFile,
			"--admin-socket", filepath.Join(dir, "admin", "admin.sock"), "--metrics-addr", "",
			"--probe-addr", "127.0.0.1:15021", "--egress", "deny")
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			<-done
		}
		if t.Failed() {
			t.Logf("outrider proxy:\n%s", logs.String())
		}
	})

	// The kubelet's view: plain HTTP to the probe port, here from inside the pod.
	kubelet := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return pod.Dial(ctx, "127.0.0.1:15021") }}}
	status := func(path string) int {
		resp, err := kubelet.Get("http://pod" + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waited 60s for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	eventually("the probe server", func() bool { return status("/healthz/ready") != 0 })
	time.Sleep(300 * time.Millisecond) // several of the client's retries
	if got := status("/healthz/ready"); got != http.StatusServiceUnavailable {
		t.Fatalf("/healthz/ready without a token: %d, want 503", got)
	}
	for path, want := range map[string]int{"/app-health/app/livez": 200, "/app-health/app/readyz": 503, "/app-health/other/livez": 404, "/readyz": 404} {
		if got := status(path); got != want {
			t.Errorf("GET %s: %d, want %d", path, got, want)
		}
	}

	if err := os.WriteFile(tokenFile, []byte(h.Token(podObj, identitytest.Audience, time.Now().Add(time.Hour))), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually("readiness", func() bool { return status("/healthz/ready") == http.StatusOK })

	// A meshed peer with its own certificate from the same service.
	want := spiffeid.RequireFromPath(h.Server.CA().TrustDomain(), "/ns/shop/sa/backend")
	clientCert := issueFrom(t, h.Server.CA(), "shop", "frontend")
	var served []*x509.Certificate
	conn, err := peer.Dial(ctx, pod.AddrPort(8080))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tc := tls.Client(conn, &tls.Config{
		MinVersion: tls.VersionTLS13, NextProtos: []string{proxy.ALPN}, Certificates: []tls.Certificate{clientCert},
		InsecureSkipVerify: true, // verified below as an SVID, as a proxy does
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, _, err := x509svid.Verify(cs.PeerCertificates, h.Bundle())
			if err != nil {
				return err
			}
			if id != want {
				return fmt.Errorf("server is %s, want %s", id, want)
			}
			served = cs.PeerCertificates
			return nil
		},
	})
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	msg := []byte("through the identity service's certificate")
	if _, err := tc.Write(msg); err != nil {
		t.Fatalf("mutual TLS to the pod: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(tc, got); err != nil || string(got) != string(msg) {
		t.Fatalf("echo through the proxy: %q, %v", got, err)
	}
	tc.Close() // or the proxy waits out its shutdown grace for it
	// The certificate served is the one the proxy holds (its admin API says which).
	admin := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", filepath.Join(dir, "admin", "admin.sock"))
	}}}
	resp, err := admin.Get("http://admin/certs")
	if err != nil {
		t.Fatal(err)
	}
	var dump proxy.CertsDump
	err = json.NewDecoder(resp.Body).Decode(&dump)
	resp.Body.Close()
	if err != nil || len(dump.Chain) == 0 || len(served) == 0 {
		t.Fatalf("/certs: %+v, %v", dump, err)
	}
	if sum := sha256.Sum256(served[0].Raw); dump.Chain[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("the proxy served %x, its admin API shows %s", sum, dump.Chain[0].SHA256)
	}

	cancel()
	stopped = true
	if err := <-done; err != nil {
		t.Fatalf("outrider proxy exited with %v", err)
	}
	if !strings.Contains(logs.String(), `"msg":"certificate installed"`) {
		t.Errorf("no certificate installed in the proxy's log")
	}
}

// issueFrom issues an X509-SVID for namespace/serviceAccount from authority.
func issueFrom(t *testing.T, authority *ca.CA, namespace, serviceAccount string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	svid, err := authority.Issue(ca.IssueRequest{CSR: csr, Namespace: namespace, ServiceAccount: serviceAccount})
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: svid.Leaf()}
	for _, c := range svid.Certificates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert
}
