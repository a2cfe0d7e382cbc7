//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/mesh/inject"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// The three workloads of a meshed namespace, each with a ServiceAccount of its own. The
// backend serves pageMarker with busybox httpd on backendPort; the others only run commands.
const (
	frontend    = "frontend"
	backend     = "backend"
	other       = "other"
	backendPort = 8080
	pageMarker  = "outrider-e2e-backend-page"
	appName     = "app"
)

// meshWorld is a meshed namespace with running workloads.
type meshWorld struct {
	ns          string
	trustDomain string
	pods        map[string]*corev1.Pod // by workload name, as they were once Ready
}

func (w *meshWorld) ip(name string) string { return w.pods[name].Status.PodIP }

func (w *meshWorld) spiffeID(sa string) string {
	return fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", w.trustDomain, w.ns, sa)
}

// get runs one HTTP GET of path on the backend from a workload's app container and reports
// "ok" or "fail …".
func (w *meshWorld) get(ctx context.Context, from, path, want string) string {
	out, err := execIn(ctx, w.ns, from, appName, httpGetScript(w.ip(backend), backendPort, path, want))
	if err != nil {
		return fmt.Sprintf("fail (exec: %v: %s)", err, strings.TrimSpace(out))
	}
	return strings.TrimSpace(out)
}

// TestMeshPodsEndToEnd runs the mesh in real pods of the local cluster (issue 6): frontend,
// backend and other in a namespace labelled security.outrider.dev/mesh=enabled, injected by the
// controller, with identities from `outrider identity`. Each subtest is one property or one
// bypass attempt, named after the attack; they run in order on the same workloads (the
// policy they install is part of the story). A second meshed namespace holds a frontend and a
// backend whose proxies ask for one-minute certificates, for the rotation test.
func TestMeshPodsEndToEnd(t *testing.T) {
	start := time.Now()
	w := &meshWorld{ns: newNamespace(t, "meshpods", map[string]string{"security.outrider.dev/mesh": "enabled"})}
	rot := startRotationPair(t) // its pods start while the main workloads do
	w.setUp(t)
	t.Logf("workloads ready after %v: frontend %s, backend %s, other %s", time.Since(start).Round(100*time.Millisecond),
		w.ip(frontend), w.ip(backend), w.ip(other))

	t.Run("frontend-calls-backend-over-http", func(t *testing.T) { testFrontendCallsBackend(t, w) })
	t.Run("unauthorized-peer-calls-backend", func(t *testing.T) { testUnauthorizedPeerRefused(t, w) })
	t.Run("eavesdropper-on-the-bridge-reads-plaintext", func(t *testing.T) { testBridgeCarriesOnlyTLS(t, w) })
	t.Run("app-dials-proxy-private-ports", func(t *testing.T) { testAppCannotDialProxyPorts(t, w) })
	t.Run("app-opens-proxy-admin-socket", func(t *testing.T) { testAppCannotReachAdminSocket(t, w) })
	t.Run("admission", func(t *testing.T) { testAdmissionRefusesBypasses(t, w) })
	t.Run("sidecar-keeps-meshed-job-running", func(t *testing.T) { testMeshedJobCompletes(t, w) })
	t.Run("policy-change-takes-effect-within-2s", func(t *testing.T) { testPolicyChangeWithin2s(t, w) })
	t.Run("proxy-runs-as-1337-without-capabilities", func(t *testing.T) { testProxyProcessCredentials(t, w) })
	t.Run("proxy-killed-under-traffic", func(t *testing.T) { testKilledProxyRestarts(t, w) })
	t.Run("certificate-rotation-under-traffic", func(t *testing.T) { testRotationUnderTraffic(t, rot) })
	t.Logf("whole test: %v", time.Since(start).Round(100*time.Millisecond))
}

// --- set-up ---

// meshPod is a restricted pod (UID 65532, no capabilities, read-only root with an emptyDir
// on /tmp) running as the ServiceAccount named like it. The backend serves pageMarker on
// backendPort with busybox httpd and has an HTTP readiness probe, which the injector rewrites
// to the proxy's probe port.
func meshPod(ns, name string) *corev1.Pod {
	spec := restrictedPodSpec()
	spec.ServiceAccountName = name
	spec.Volumes = []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	c := &spec.Containers[0]
	c.VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	if name == backend || strings.HasPrefix(name, backend+"-") {
		c.Command = []string{"sh", "-c", fmt.Sprintf("mkdir -p /tmp/www && echo %s >/tmp/www/index.html && "+
			"trap 'exit 0' TERM; httpd -f -p %d -h /tmp/www & wait", pageMarker, backendPort)}
		c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: backendPort}}
		c.ReadinessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/index.html", Port: intstr.FromInt32(backendPort)}},
			PeriodSeconds: 2,
		}
	}
	return newPod(ns, name, spec)
}

func createServiceAccounts(t *testing.T, ns string, names ...string) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	for _, n := range names {
		if _, err := env.cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
			ObjectMeta:                   metav1.ObjectMeta{Name: n},
			AutomountServiceAccountToken: ptr.To(false),
		}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating ServiceAccount %s/%s: %v", ns, n, err)
		}
	}
}

// setUp creates the three workloads, waits until they are Ready (2/2: app and proxy), checks
// what the injector added, and reads the namespace's trust domain.
func (w *meshWorld) setUp(t *testing.T) {
	t.Helper()
	names := []string{frontend, backend, other}
	createServiceAccounts(t, w.ns, names...)
	ctx := ctxFor(t, 3*time.Minute)
	for _, n := range names {
		if _, err := env.cs.CoreV1().Pods(w.ns).Create(ctx, meshPod(w.ns, n), metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating pod %s/%s: %v", w.ns, n, err)
		}
	}
	w.pods = map[string]*corev1.Pod{}
	for _, n := range names {
		w.pods[n] = waitPodReady(t, w.ns, n, 2*time.Minute)
	}
	for _, n := range names {
		p := w.pods[n]
		var inits []string
		for _, c := range p.Spec.InitContainers {
			inits = append(inits, c.Name)
		}
		if !slices.Equal(inits, []string{inject.CaptureContainer, inject.ProxyContainer}) {
			t.Fatalf("pod %s: init containers %v, want the injected %s and %s", n, inits, inject.CaptureContainer, inject.ProxyContainer)
		}
		if rp := p.Spec.InitContainers[1].RestartPolicy; rp == nil || *rp != corev1.ContainerRestartPolicyAlways {
			t.Fatalf("pod %s: %s is not a native sidecar (restartPolicy %v)", n, inject.ProxyContainer, rp)
		}
	}
	if pr := w.pods[backend].Spec.Containers[0].ReadinessProbe; pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Port.IntValue() != inject.ProbePort {
		t.Fatalf("the backend's readiness probe was not rewritten to the proxy's probe port: %+v", pr)
	}
	cm, err := env.cs.CoreV1().ConfigMaps(w.ns).Get(ctx, "outrider-trust-bundle", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the namespace's trust bundle ConfigMap: %v", err)
	}
	if w.trustDomain = cm.Data["trust-domain"]; w.trustDomain == "" {
		t.Fatalf("the trust bundle ConfigMap names no trust domain: %v", cm.Data)
	}
}

// --- 1: the data path works ---

func testFrontendCallsBackend(t *testing.T, w *meshWorld) {
	backendIn := proxyMetric(t, w.ip(backend), "outrider_proxy_connections_total", `direction="inbound"`)
	frontendMesh := proxyMetric(t, w.ip(frontend), "outrider_proxy_outbound_connections_total", `kind="mesh"`)
	// The first call may precede the push that tells the frontend's proxy the backend is meshed.
	var last string
	eventually(t, 30*time.Second, 250*time.Millisecond, "frontend gets the backend's page", func(ctx context.Context) (bool, error) {
		last = w.get(ctx, frontend, "/index.html", pageMarker)
		return last == "ok", nil
	})
	// Through both proxies: the frontend's dialled the backend over the mesh, the backend's
	// accepted it.
	if got := proxyMetric(t, w.ip(frontend), "outrider_proxy_outbound_connections_total", `kind="mesh"`); got <= frontendMesh {
		t.Errorf("the frontend's proxy counted no outbound mesh connection (%v → %v)", frontendMesh, got)
	}
	if got := proxyMetric(t, w.ip(backend), "outrider_proxy_connections_total", `direction="inbound"`); got <= backendIn {
		t.Errorf("the backend's proxy counted no inbound connection (%v → %v)", backendIn, got)
	}
}

// --- 2: a peer the policy does not name ---

// accessPolicy allows the named ServiceAccounts to reach the backend on backendPort.
func accessPolicy(ns string, serviceAccounts ...string) *v1alpha1.AccessPolicy {
	return &v1alpha1.AccessPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "AccessPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: backend, Namespace: ns},
		Spec: v1alpha1.AccessPolicySpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": backend}},
			Ingress: []v1alpha1.AccessPolicyIngressRule{{
				From:  []v1alpha1.AccessPolicyPeer{{ServiceAccounts: serviceAccounts}},
				Ports: []v1alpha1.AccessPolicyPort{{Port: backendPort}},
			}},
		},
	}
}

// setAllowed rewrites the backend's AccessPolicy to allow exactly serviceAccounts.
func setAllowed(t *testing.T, ns string, serviceAccounts ...string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cur, err := env.dyn.Resource(accessPolicyGVR).Namespace(ns).Get(ctx, backend, metav1.GetOptions{})
		if err != nil {
			return err
		}
		want := toUnstructured(t, accessPolicy(ns, serviceAccounts...))
		want.SetResourceVersion(cur.GetResourceVersion())
		_, err = env.dyn.Resource(accessPolicyGVR).Namespace(ns).Update(ctx, want, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("updating AccessPolicy %s/%s: %v", ns, backend, err)
	}
}

// proxyLogEntry is a line of outrider-proxy's JSON log.
type proxyLogEntry struct {
	Msg       string `json:"msg"`
	Direction string `json:"direction"`
	Peer      string `json:"peer"`
	Local     string `json:"local"`
	Port      int    `json:"port"`
	Reason    string `json:"reason"`
	Remote    string `json:"remote"`
}

func proxyLog(t *testing.T, ns, pod string) []proxyLogEntry {
	t.Helper()
	raw := podLogs(ctxFor(t, 20*time.Second), ns, pod, inject.ProxyContainer)
	var out []proxyLogEntry
	for _, l := range strings.Split(raw, "\n") {
		var e proxyLogEntry
		if json.Unmarshal([]byte(l), &e) == nil && e.Msg != "" {
			out = append(out, e)
		}
	}
	return out
}

func testUnauthorizedPeerRefused(t *testing.T, w *meshWorld) {
	// While no AccessPolicy selects the backend, every meshed peer may call it: the refusal
	// below is the policy's doing, not a broken peer.
	eventually(t, 20*time.Second, 250*time.Millisecond, "other reaches the unselected backend", func(ctx context.Context) (bool, error) {
		return w.get(ctx, other, "/index.html", pageMarker) == "ok", nil
	})
	ctx := ctxFor(t, time.Minute)
	if _, err := env.dyn.Resource(accessPolicyGVR).Namespace(w.ns).Create(ctx, toUnstructured(t, accessPolicy(w.ns, frontend)), metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the AccessPolicy: %v", err)
	}
	consistently(t, 20*time.Second, 3, "other refused by the backend", func(ctx context.Context) (bool, error) {
		return strings.HasPrefix(w.get(ctx, other, "/index.html", pageMarker), "fail"), nil
	})
	if got := w.get(ctx, frontend, "/index.html", pageMarker); got != "ok" {
		t.Fatalf("the frontend, which the policy allows, is refused too: %s", got)
	}
	var denied []proxyLogEntry
	for _, e := range proxyLog(t, w.ns, backend) {
		if e.Msg == "connection denied" && e.Direction == "inbound" {
			denied = append(denied, e)
		}
	}
	want := proxyLogEntry{Msg: "connection denied", Direction: "inbound", Peer: w.spiffeID(other), Local: w.spiffeID(backend), Port: backendPort}
	i := slices.IndexFunc(denied, func(e proxyLogEntry) bool {
		return e.Peer == want.Peer && e.Local == want.Local && e.Port == want.Port
	})
	if i < 0 {
		t.Fatalf("the backend's proxy logged no denial with peer %s and local %s on port %d; denials: %+v", want.Peer, want.Local, want.Port, denied)
	}
	if host, _, _ := net.SplitHostPort(denied[i].Remote); host != w.ip(other) {
		t.Errorf("the denial names remote %q, want other's address %s", denied[i].Remote, w.ip(other))
	}
	t.Logf("backend's proxy: connection denied peer=%s local=%s port=%d reason=%s remote=%s",
		denied[i].Peer, denied[i].Local, denied[i].Port, denied[i].Reason, denied[i].Remote)
}

// --- 3: what crosses the bridge ---

func testBridgeCarriesOnlyTLS(t *testing.T, w *meshWorld) {
	ctx := ctxFor(t, time.Minute)
	marker := "outrider-plaintext-" + rand.String(16)
	control := "outrider-control-" + rand.String(16)
	// The page's name and body are the marker: it would show in either direction.
	if out, err := execIn(ctx, w.ns, backend, appName, fmt.Sprintf("echo %s >/tmp/www/%s.html", marker, marker)); err != nil {
		t.Fatalf("writing the marked page: %v: %s", err, out)
	}
	fe, be := netip.MustParseAddr(w.ip(frontend)), netip.MustParseAddr(w.ip(backend))
	gateway := netip.MustParseAddr(bridgeGateway)
	c := captureBridge(t, "outrider0", func(src, dst netip.Addr) bool {
		return src == fe || dst == fe || src == be || dst == be
	})
	if got := w.get(ctx, frontend, "/"+marker+".html", marker); got != "ok" {
		t.Fatalf("the frontend did not get the marked page: %s", got)
	}
	// The control: the same kind of request to a destination outside the mesh (the local
	// registry on the bridge gateway), which the frontend's proxy passes through in plain
	// text. Its marker must be seen, or the capture proves nothing.
	plain, _ := execIn(ctx, w.ns, frontend, appName, httpGetScript(bridgeGateway, 5000, "/v2/"+control+"/manifests/latest", "HTTP/1."))
	time.Sleep(300 * time.Millisecond)
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	frames, kept := c.counts()
	streams := c.streams()

	var hello, serverHello []tcpFlow
	meshBytes := 0
	for f, s := range streams {
		switch {
		case f.src.Addr() == fe && f.dst == netip.AddrPortFrom(be, backendPort):
			meshBytes += len(s)
			if len(s) > 5 && s[0] == 0x16 && s[1] == 0x03 && strings.Contains(string(s), "outrider/1") {
				hello = append(hello, f)
			}
		case f.dst.Addr() == fe && f.src == netip.AddrPortFrom(be, backendPort):
			meshBytes += len(s)
			if len(s) > 5 && s[0] == 0x16 && s[1] == 0x03 {
				serverHello = append(serverHello, f)
			}
		}
	}
	t.Logf("capture on outrider0: %d frames, %d between the pods' addresses, %d flows; frontend↔backend:%d %d payload bytes, "+
		"%d flow(s) opening with a ClientHello offering outrider/1, %d answered with a TLS handshake record",
		frames, kept, len(streams), backendPort, meshBytes, len(hello), len(serverHello))
	if len(hello) == 0 || len(serverHello) == 0 {
		var seen []string
		for f, s := range streams {
			seen = append(seen, fmt.Sprintf("%s (%d bytes, starts %q)", f, len(s), s[:min(len(s), 16)]))
		}
		t.Fatalf("no TLS flow from the frontend to %s:%d was captured; flows: %v", be, backendPort, seen)
	}
	for f, s := range streams {
		if (f.src.Addr() == fe && f.dst.Addr() == be) || (f.src.Addr() == be && f.dst.Addr() == fe) {
			for _, text := range []string{"GET /", "HTTP/1.", pageMarker} {
				if strings.Contains(string(s), text) {
					t.Errorf("the flow %s carries %q in plain text", f, text)
				}
			}
		}
	}
	if flows, inSegment := c.find([]byte(marker)); len(flows) > 0 || inSegment {
		t.Errorf("the plain-text marker crossed the bridge: in flows %v (in a single segment: %v)", flows, inSegment)
	}
	controlFlows, _ := c.find([]byte(control))
	if !slices.ContainsFunc(controlFlows, func(f tcpFlow) bool { return f.src.Addr() == fe && f.dst.Addr() == gateway }) {
		t.Errorf("the control marker sent in plain text to %s was not captured (flows %v; the request: %s): the capture would miss plain text too",
			gateway, controlFlows, plain)
	} else {
		t.Logf("control: the marker of a plain-text request to %s:5000 was captured in %v", gateway, controlFlows)
	}
}

// --- 4: the proxy's ports and admin socket, from the application ---

// tcpListeners returns the TCP ports listening in the network namespace of pid, with the UID
// that owns each (from /proc/<pid>/net/tcp and tcp6).
func tcpListeners(t *testing.T, pid int) map[int]string {
	t.Helper()
	out := map[int]string{}
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(l)
			if len(fields) < 8 || fields[3] != "0A" { // LISTEN
				continue
			}
			_, portHex, _ := strings.Cut(fields[1], ":")
			port, err := strconv.ParseInt(portHex, 16, 32)
			if err != nil {
				continue
			}
			out[int(port)] = fields[7]
		}
	}
	return out
}

// proxyContainer returns the current status of the pod's outrider-proxy container.
func proxyContainer(t *testing.T, ns, pod string) corev1.ContainerStatus {
	t.Helper()
	p, err := env.cs.CoreV1().Pods(ns).Get(ctxFor(t, 10*time.Second), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Status.InitContainerStatuses {
		if s.Name == inject.ProxyContainer {
			return s
		}
	}
	t.Fatalf("pod %s/%s has no %s status", ns, pod, inject.ProxyContainer)
	return corev1.ContainerStatus{}
}

// containerPID is the host PID of a running container of a pod.
func containerPID(t *testing.T, s corev1.ContainerStatus) int {
	t.Helper()
	id, ok := strings.CutPrefix(s.ContainerID, "containerd://")
	if !ok {
		t.Fatalf("container %s: unexpected ID %q", s.Name, s.ContainerID)
	}
	pid, err := taskPID(ctxFor(t, 10*time.Second), id)
	if err != nil {
		t.Fatalf("container %s: %v", s.Name, err)
	}
	return pid
}

func testAppCannotDialProxyPorts(t *testing.T, w *meshWorld) {
	ip := w.ip(backend)
	ports := []int{
		int(netip.MustParseAddrPort(proxy.DefaultOutboundAddr).Port()), int(netip.MustParseAddrPort(proxy.DefaultInboundAddr).Port()),
		inject.MetricsPort, inject.ProbePort,
	}
	// The control: the proxy (UID 1337) listens on every one of them in the pod's network
	// namespace, so a refusal below is the capture rules' doing.
	pid := containerPID(t, proxyContainer(t, w.ns, backend))
	listening := tcpListeners(t, pid)
	for _, p := range ports {
		if listening[p] != strconv.FormatInt(int64(1337), 10) {
			t.Fatalf("port %d in the backend pod: listener owned by %q, want the proxy (1337); listeners: %v", p, listening[p], listening)
		}
	}
	var targets []string
	for _, p := range ports {
		targets = append(targets, fmt.Sprintf("127.0.0.1:%d", p))
	}
	for _, p := range ports {
		targets = append(targets, fmt.Sprintf("%s:%d", ip, p))
	}
	script := fmt.Sprintf(`for t in %s; do
r=$(timeout 5 nc -w 2 ${t%%:*} ${t##*:} </dev/null 2>&1); echo "$t rc=$? $r" | tr '\n' ' '; echo
done`, strings.Join(targets, " "))
	out, err := execIn(ctxFor(t, time.Minute), w.ns, backend, appName, script)
	if err != nil {
		t.Fatalf("exec: %v: %s", err, out)
	}
	for _, target := range targets {
		line := probeLineFor(out, target)
		if !strings.Contains(line, "Connection refused") {
			t.Errorf("the backend's app connecting to %s: %q, want the connection refused", target, line)
		} else {
			t.Logf("app → %s: %s", target, strings.TrimSpace(line))
		}
	}
}

func probeLineFor(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, prefix+" "); ok {
			return rest
		}
	}
	return "(no line)"
}

// adminGet asks the proxy's admin socket, through the proxy's own root (/proc/<pid>/root): only
// the node's root can take that path.
func adminGet(ctx context.Context, pid int, path string) (*http.Response, error) {
	sock := fmt.Sprintf("/proc/%d/root%s", pid, inject.AdminSock)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://admin"+path, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

func testAppCannotReachAdminSocket(t *testing.T, w *meshWorld) {
	ctx := ctxFor(t, time.Minute)
	// The control: the socket exists in the proxy's container and answers.
	pid := containerPID(t, proxyContainer(t, w.ns, backend))
	sock := fmt.Sprintf("/proc/%d/root%s", pid, inject.AdminSock)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatalf("the proxy's admin socket: %v", err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("the proxy's admin socket is %v, want a socket with mode 0600", fi.Mode())
	}
	resp, err := adminGet(ctx, pid, "/certs")
	if err != nil {
		t.Fatalf("the proxy's admin socket does not answer: %v", err)
	}
	var certs proxy.CertsDump
	err = json.NewDecoder(resp.Body).Decode(&certs)
	resp.Body.Close()
	if err != nil || len(certs.Chain) == 0 || !slices.Contains(certs.Chain[0].URIs, w.spiffeID(backend)) {
		t.Fatalf("the proxy's /certs (through its own root): %v %+v, want the backend's SVID", err, certs)
	}

	// The attack: look for it from the application container, by path and through /proc.
	out, err := execIn(ctx, w.ns, backend, appName, fmt.Sprintf(`
if [ -e %[1]s ]; then echo "socket: present"; else echo "socket: absent"; fi
if [ -e %[2]s ]; then echo "dir: present"; else echo "dir: absent"; fi
n=0; for s in /proc/[0-9]*/status; do grep -q '^Uid:.*1337' $s 2>/dev/null && n=$((n+1)); done; echo "proxy processes: $n"
echo "mounts: $(grep -c outrider-proxy /proc/self/mountinfo)"`, inject.AdminSock, inject.AdminDir))
	if err != nil {
		t.Fatalf("exec: %v: %s", err, out)
	}
	for _, want := range []string{"socket: absent", "dir: absent", "proxy processes: 0", "mounts: 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("from the backend's app container: want %q, got:\n%s", want, out)
		}
	}
	t.Logf("admin socket %s in the proxy (mode %v, serving %s); from the app: %s", inject.AdminSock, fi.Mode().Perm(),
		certs.Chain[0].URIs[0], strings.Join(strings.Fields(strings.ReplaceAll(out, "\n", ";")), " "))
}

// --- 5: admission ---

func testAdmissionRefusesBypasses(t *testing.T, w *meshWorld) {
	attacks := []struct {
		name, check string
		mutate      func(*corev1.PodSpec)
	}{
		{"app-runs-as-proxy-uid", "[mesh.proxyIdentity]", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.RunAsUser = ptr.To[int64](1337)
		}},
		{"app-adds-net-admin", "[mesh.netCapabilities]", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}},
		{"app-adds-net-raw", "[mesh.netCapabilities]", func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_RAW"}
		}},
		{"app-shares-process-namespace-with-proxy", "[mesh.sharedNamespaces]", func(s *corev1.PodSpec) {
			s.ShareProcessNamespace = ptr.To(true)
		}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			p := meshPod(w.ns, a.name)
			p.Spec.ServiceAccountName = other
			a.mutate(&p.Spec)
			_, err := env.cs.CoreV1().Pods(w.ns).Create(ctxFor(t, 20*time.Second), p, metav1.CreateOptions{})
			msg := requireRefused(t, err, a.name, a.check)
			t.Logf("refused: %s", msg)
		})
	}
	t.Run("unprivileged-user-opts-pod-out-of-mesh", func(t *testing.T) { testOptOutRefused(t, w) })
}

// testOptOutRefused: a user who may create pods in the namespace, but is not in the
// controller's mesh.optOutUsers/optOutGroups (both empty in the local cluster), annotates a pod
// security.outrider.dev/inject: "false" to run it beside the mesh's workloads unproxied.
func testOptOutRefused(t *testing.T, w *meshWorld) {
	const user = "e2e-mesh-developer"
	ctx := ctxFor(t, time.Minute)
	if _, err := env.cs.RbacV1().Roles(w.ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-author"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"create", "get", "list"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.cs.RbacV1().RoleBindings(w.ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-author"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-author"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	as, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The user may create meshed pods here (so the refusal below is not RBAC's).
	allowed := meshPod(w.ns, "meshed-by-developer")
	allowed.Spec.ServiceAccountName = other
	var last error
	if err := retryUntil(ctx, 20*time.Second, func(ctx context.Context) bool {
		_, last = as.CoreV1().Pods(w.ns).Create(ctx, allowed, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return last == nil || strings.Contains(last.Error(), "outrider refused") // else RBAC not yet in force
	}); err != nil || last != nil {
		t.Fatalf("%s may not create a meshed pod in %s: %v", user, w.ns, last)
	}
	p := meshPod(w.ns, "opted-out")
	p.Spec.ServiceAccountName = other
	p.Annotations = map[string]string{inject.InjectAnnotation: inject.InjectDisabled}
	_, err = as.CoreV1().Pods(w.ns).Create(ctx, p, metav1.CreateOptions{})
	msg := requireRefused(t, err, "a pod opted out of the mesh by "+user, inject.InjectAnnotation, fmt.Sprintf("%q may not", user), "mesh.optOut")
	t.Logf("refused: %s", msg)
}

// --- 6: a meshed Job ---

func testMeshedJobCompletes(t *testing.T, w *meshWorld) {
	spec := meshPod(w.ns, frontend).Spec
	spec.RestartPolicy = corev1.RestartPolicyNever
	// The Job calls the backend (as frontend, which the policy allows) and exits.
	spec.Containers[0].Command = []string{"sh", "-c", fmt.Sprintf(`for i in 1 2 3 4 5; do
%s
done | tee /tmp/out; grep -q '^ok$' /tmp/out`, httpGetScript(w.ip(backend), backendPort, "/index.html", pageMarker))}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "meshed-job", Namespace: w.ns},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template:     podTemplate("meshed-job", spec),
		},
	}
	start := time.Now()
	if _, err := env.cs.BatchV1().Jobs(w.ns).Create(ctxFor(t, 20*time.Second), job, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the Job: %v", err)
	}
	var done *batchv1.Job
	eventually(t, 2*time.Minute, 500*time.Millisecond, "the meshed Job completes", func(ctx context.Context) (bool, error) {
		j, err := env.cs.BatchV1().Jobs(w.ns).Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		done = j
		for _, c := range j.Status.Conditions {
			if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobFailed) {
				return false, fmt.Errorf("the Job failed: %s", c.Message)
			}
			if c.Status == corev1.ConditionTrue && c.Type == batchv1.JobComplete {
				return true, nil
			}
		}
		return false, nil
	})
	pods, err := env.cs.CoreV1().Pods(w.ns).List(ctxFor(t, 10*time.Second), metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job.Name})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("the Job's pods: %v (%d)", err, len(pods.Items))
	}
	p := &pods.Items[0]
	if !inject.Injected(&p.Spec) {
		t.Fatalf("the Job's pod was not injected")
	}
	if p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("the Job's pod is %s, want Succeeded", p.Status.Phase)
	}
	t.Logf("Job complete %v after creation (succeeded %d); its pod %s: %s", time.Since(start).Round(100*time.Millisecond),
		done.Status.Succeeded, p.Name, strings.Join(strings.Fields(podLogs(ctxFor(t, 10*time.Second), w.ns, p.Name, appName)), " "))
}

// --- 7: policy changes ---

func testPolicyChangeWithin2s(t *testing.T, w *meshWorld) {
	ip := w.ip(backend)
	request := httpGetScript(ip, backendPort, "/index.html", pageMarker)
	grantLoop := startExec(t, w.ns, other, appName, loopScript(request, 30*time.Second, "0.05"))
	defer grantLoop.stop()
	// other is refused now (frontend only).
	if grantLoop.waitFor(0, 20*time.Second, isFail) < 0 {
		t.Fatalf("other's loop never reported a refusal:\n%s", grantLoop.describe())
	}
	n := len(grantLoop.snapshot())

	// Grant: also allow other.
	granted := time.Now()
	setAllowed(t, w.ns, frontend, other)
	i := grantLoop.waitFor(n, 10*time.Second, func(l timedLine) bool { return isOK(l) && l.at.After(granted) })
	if i < 0 {
		t.Fatalf("other was not allowed within 10 s of the grant:\n%s", grantLoop.describe())
	}
	grant := grantLoop.snapshot()[i].at.Sub(granted)
	t.Logf("grant: other's first successful request %v after the AccessPolicy update was sent", grant.Round(time.Millisecond))
	if grant > 2*time.Second {
		t.Errorf("the grant took %v to take effect, want < 2 s", grant)
	}
	grantLoop.stop()

	// An open connection from other that sends nothing. With no other traffic to the backend,
	// its proxy's open inbound connection is that one: authorized and forwarded.
	held := startExec(t, w.ns, other, appName, fmt.Sprintf("echo open; sleep 60 | (nc %s %d; echo closed rc=$?)", ip, backendPort))
	defer held.stop()
	consistently(t, 15*time.Second, 5, "other's held connection open at the backend's proxy", func(ctx context.Context) (bool, error) {
		text, err := proxyMetrics(ctx, ip)
		if err != nil {
			return false, err
		}
		return sumSeries(text, "outrider_proxy_connections_open", []string{`direction="inbound"`}) == 1 && len(held.snapshot()) == 1, nil
	})
	revokedBefore := proxyMetric(t, ip, "outrider_proxy_connections_revoked_total")
	revokeLoop := startExec(t, w.ns, other, appName, loopScript(request, 30*time.Second, "0.05"))
	defer revokeLoop.stop()
	if revokeLoop.waitFor(0, 10*time.Second, isOK) < 0 {
		t.Fatalf("other's requests do not succeed before the revocation:\n%s", revokeLoop.describe())
	}
	if l := held.snapshot(); len(l) != 1 {
		t.Fatalf("the held connection ended before the revocation:\n%s", held.describe())
	}

	// Revoke: frontend only again.
	n = len(revokeLoop.snapshot())
	revoked := time.Now()
	setAllowed(t, w.ns, frontend)
	j := held.waitFor(1, 10*time.Second, func(l timedLine) bool { return strings.HasPrefix(l.text, "closed") })
	if j < 0 {
		t.Errorf("other's open connection was not closed within 10 s of the revocation:\n%s", held.describe())
	} else {
		d := held.snapshot()[j].at.Sub(revoked)
		t.Logf("revoke: other's open connection closed %v after the update was sent (%s)", d.Round(time.Millisecond), held.snapshot()[j].text)
		if d > 2*time.Second {
			t.Errorf("the open connection was closed %v after the revocation, want < 2 s", d)
		}
	}
	// Watch the loop for 3 s more: after its last success, every request must fail.
	time.Sleep(3 * time.Second)
	lines := revokeLoop.snapshot()[n:]
	var lastOKAt time.Time
	fails := 0
	for _, l := range lines {
		switch {
		case isOK(l):
			lastOKAt, fails = l.at, 0
		case isFail(l):
			fails++
		}
	}
	firstFailAfter := time.Duration(-1)
	for _, l := range lines {
		if isFail(l) && !l.at.Before(lastOKAt) {
			firstFailAfter = l.at.Sub(revoked)
			break
		}
	}
	t.Logf("revoke: other's requests refused from %v after the update was sent (%d refusals since)", firstFailAfter.Round(time.Millisecond), fails)
	if fails < 5 || firstFailAfter < 0 || firstFailAfter > 2*time.Second {
		t.Errorf("after the revocation: refused from %v (want < 2 s), %d refusals since (want ≥ 5):\n%s", firstFailAfter, fails, revokeLoop.describe())
	}
	if got := proxyMetric(t, ip, "outrider_proxy_connections_revoked_total"); got <= revokedBefore {
		t.Errorf("outrider_proxy_connections_revoked_total: %v → %v, want an increase", revokedBefore, got)
	}
	if !slices.ContainsFunc(proxyLog(t, w.ns, backend), func(e proxyLogEntry) bool {
		return e.Msg == "connection revoked" && e.Peer == w.spiffeID(other)
	}) {
		t.Errorf("the backend's proxy did not log the revocation of other's connection")
	}
}

// --- 8: the proxy process on the node ---

func testProxyProcessCredentials(t *testing.T, w *meshWorld) {
	pod, err := env.cs.CoreV1().Pods(w.ns).Get(ctxFor(t, 10*time.Second), backend, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var proxySt, appSt corev1.ContainerStatus
	for _, s := range pod.Status.InitContainerStatuses {
		if s.Name == inject.ProxyContainer {
			proxySt = s
		}
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == appName {
			appSt = s
		}
	}
	zero := "0000000000000000"
	for _, c := range []struct {
		st  corev1.ContainerStatus
		uid string
	}{{proxySt, "1337"}, {appSt, "65532"}} {
		pid := containerPID(t, c.st)
		st, err := procStatus(pid)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"Uid": strings.Repeat(c.uid+" ", 3) + c.uid, "Gid": strings.Repeat(c.uid+" ", 3) + c.uid,
			"CapInh": zero, "CapPrm": zero, "CapEff": zero, "CapBnd": zero, "CapAmb": zero,
			"NoNewPrivs": "1", "Seccomp": "2",
		}
		for k, v := range want {
			if st[k] != v {
				t.Errorf("%s (pid %d): %s %q, want %q", c.st.Name, pid, k, st[k], v)
			}
		}
		t.Logf("%s: pid %d Uid %s Gid %s CapEff %s CapBnd %s NoNewPrivs %s Seccomp %s", c.st.Name, pid, st["Uid"], st["Gid"], st["CapEff"], st["CapBnd"], st["NoNewPrivs"], st["Seccomp"])
	}
}

// --- 9: the proxy killed ---

func testKilledProxyRestarts(t *testing.T, w *meshWorld) {
	before := proxyContainer(t, w.ns, backend)
	id, _ := strings.CutPrefix(before.ContainerID, "containerd://")
	loop := startExec(t, w.ns, frontend, appName, loopScript(httpGetScript(w.ip(backend), backendPort, "/index.html", pageMarker), 90*time.Second, "0.1"))
	defer loop.stop()
	if loop.waitFor(0, 20*time.Second, isOK) < 0 {
		t.Fatalf("the frontend's loop never succeeded before the kill:\n%s", loop.describe())
	}
	killed := time.Now()
	if out, err := ctr(ctxFor(t, 20*time.Second), "task", "kill", "-s", "KILL", id); err != nil {
		t.Fatalf("killing the backend's proxy (%s): %v: %s", id, err, out)
	}
	var after corev1.ContainerStatus
	eventually(t, 90*time.Second, 250*time.Millisecond, "the backend's proxy restarted and started", func(ctx context.Context) (bool, error) {
		after = proxyContainer(t, w.ns, backend)
		return after.RestartCount > before.RestartCount && after.Started != nil && *after.Started, nil
	})
	restarted := time.Since(killed)
	firstFail := loop.waitFor(0, 10*time.Second, func(l timedLine) bool { return isFail(l) && l.at.After(killed) })
	if firstFail < 0 {
		t.Fatalf("no request failed after the proxy was killed:\n%s", loop.describe())
	}
	// Resumed: five successes in a row after the last failure.
	streak := 0
	resumed := loop.waitFor(firstFail, 60*time.Second, func(l timedLine) bool {
		switch {
		case isOK(l):
			streak++
		case isFail(l):
			streak = 0
		}
		return streak == 5
	})
	if resumed < 0 {
		t.Fatalf("traffic did not resume after the proxy restarted:\n%s", loop.describe())
	}
	lines := loop.snapshot()
	fails, lastFail := 0, lines[firstFail].at
	for _, l := range lines[firstFail : resumed+1] {
		if isFail(l) {
			fails++
			lastFail = l.at
		}
	}
	t.Logf("proxy %s killed: restartCount %d → %d, Started again %v after the kill; requests failing from %v to %v after the kill (%d failed), then succeeding (first failure: %s)",
		id[:12], before.RestartCount, after.RestartCount, restarted.Round(100*time.Millisecond),
		lines[firstFail].at.Sub(killed).Round(10*time.Millisecond), lastFail.Sub(killed).Round(10*time.Millisecond), fails, lines[firstFail].text)
}

// --- 10: certificate rotation ---

// rotationPair is a meshed namespace with a frontend and a backend whose proxies ask the
// identity service for one-minute certificates (`outrider proxy --identity-ttl=1m`), so they
// renew about every 30 s; the local cluster's default is one hour.
type rotationPair struct {
	ns string
}

// startRotationPair creates the pair's pods without waiting for them. The injector sets no
// --identity-ttl, so the pods are the injector's own output (a server-side dry run through the
// controller) with that one argument added to the proxy's. The controller refuses such a pod
// in a meshed namespace (mesh.reservedNames: an outrider-proxy that is not exactly the
// injector's), so the namespace is excluded from the default ClusterSecurityPolicy while the
// test runs; the test therefore does not run in parallel with others.
func startRotationPair(t *testing.T) *rotationPair {
	t.Helper()
	r := &rotationPair{ns: newNamespace(t, "meshrot", map[string]string{"security.outrider.dev/mesh": "enabled"})}
	createServiceAccounts(t, r.ns, frontend, backend)
	ctx := ctxFor(t, time.Minute)
	var pods []*corev1.Pod
	for _, n := range []string{frontend, backend} {
		injected, err := env.cs.CoreV1().Pods(r.ns).Create(ctx, meshPod(r.ns, n), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatalf("dry run of %s: %v", n, err)
		}
		if !inject.Injected(&injected.Spec) {
			t.Fatalf("the dry run of %s was not injected", n)
		}
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: r.ns, Labels: injected.Labels, Annotations: injected.Annotations},
			Spec:       injected.Spec,
		}
		for i := range p.Spec.InitContainers {
			if c := &p.Spec.InitContainers[i]; c.Name == inject.ProxyContainer {
				c.Args = append(c.Args, "--identity-ttl=1m")
			}
		}
		pods = append(pods, p)
	}
	excludeFromDefaultPolicy(t, r.ns)
	for _, p := range pods {
		// Until every controller replica has the exclusion, the pod is refused.
		var last error
		err := retryUntil(ctx, 30*time.Second, func(ctx context.Context) bool {
			_, last = env.cs.CoreV1().Pods(r.ns).Create(ctx, p, metav1.CreateOptions{})
			return last == nil
		})
		if err != nil {
			t.Fatalf("creating %s/%s with --identity-ttl=1m: %v (last: %v)", r.ns, p.Name, err, last)
		}
	}
	return r
}

// retryUntil calls f every 250 ms until it returns true or timeout passes.
func retryUntil(ctx context.Context, timeout time.Duration, f func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if f(ctx) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func certExpiry(t *testing.T, ip string) time.Time {
	t.Helper()
	v := proxyMetric(t, ip, "outrider_proxy_certificate_expiry_timestamp_seconds")
	return time.Unix(int64(v), 0)
}

func testRotationUnderTraffic(t *testing.T, r *rotationPair) {
	fe := waitPodReady(t, r.ns, frontend, 2*time.Minute)
	be := waitPodReady(t, r.ns, backend, 2*time.Minute)
	feIP, beIP := fe.Status.PodIP, be.Status.PodIP
	eventually(t, 30*time.Second, 250*time.Millisecond, "the rotation pair's frontend reaches its backend", func(ctx context.Context) (bool, error) {
		out, _ := execIn(ctx, r.ns, frontend, appName, httpGetScript(beIP, backendPort, "/index.html", pageMarker))
		return strings.TrimSpace(out) == "ok", nil
	})
	ips := map[string]string{frontend: feIP, backend: beIP}
	first := map[string]time.Time{}
	var lastExpiry time.Time
	for n, ip := range ips {
		first[n] = certExpiry(t, ip)
		if left := time.Until(first[n]); left > 65*time.Second || left <= 0 {
			t.Fatalf("%s's certificate expires in %v: the proxy did not get a one-minute certificate", n, left)
		}
		lastExpiry = maxTime(lastExpiry, first[n])
	}
	fullBefore := proxyMetric(t, beIP, "outrider_proxy_tls_handshakes_total", `direction="inbound"`, `resumed="false"`)

	// Traffic until both proxies have renewed and the certificates in use when it began have
	// expired: from then on every handshake needs the new ones.
	loop := startExec(t, r.ns, frontend, appName, loopScript(httpGetScript(beIP, backendPort, "/index.html", pageMarker), 100*time.Second, "0.05"))
	defer loop.stop()
	start := time.Now()
	renewals := map[string][]time.Time{}
	cur := map[string]time.Time{frontend: first[frontend], backend: first[backend]}
	eventually(t, 90*time.Second, 500*time.Millisecond, "both proxies renewed and their earlier certificates expired", func(ctx context.Context) (bool, error) {
		for n, ip := range ips {
			text, err := proxyMetrics(ctx, ip)
			if err != nil {
				return false, err
			}
			e := time.Unix(int64(sumSeries(text, "outrider_proxy_certificate_expiry_timestamp_seconds", nil)), 0)
			if !e.Equal(cur[n]) {
				renewals[n] = append(renewals[n], e)
				cur[n] = e
			}
		}
		return len(renewals[frontend]) > 0 && len(renewals[backend]) > 0 && time.Now().After(lastExpiry.Add(2*time.Second)), nil
	})
	loop.stop()
	lines := loop.snapshot()
	ok, failed := 0, []string{}
	for _, l := range lines {
		switch {
		case isOK(l):
			ok++
		case isFail(l):
			failed = append(failed, l.at.Format("15:04:05.000")+" "+l.text)
		}
	}
	fullAfter := proxyMetric(t, beIP, "outrider_proxy_tls_handshakes_total", `direction="inbound"`, `resumed="false"`)
	t.Logf("rotation: %d requests over %v, %d failed; renewals: frontend %d (expiry %s → %v), backend %d (expiry %s → %v); backend full handshakes +%v",
		ok+len(failed), time.Since(start).Round(100*time.Millisecond), len(failed),
		len(renewals[frontend]), first[frontend].Format("15:04:05"), fmtTimes(renewals[frontend]),
		len(renewals[backend]), first[backend].Format("15:04:05"), fmtTimes(renewals[backend]), fullAfter-fullBefore)
	if len(failed) > 0 {
		t.Errorf("%d requests failed across the rotation:\n%s", len(failed), strings.Join(failed, "\n"))
	}
	if fullAfter-fullBefore < 1 {
		t.Errorf("the backend's proxy made no full handshake after the certificates in use at the start expired")
	}
	if ok < 100 {
		t.Errorf("only %d requests succeeded: the load was too light to show anything:\n%s", ok, loop.describe())
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func fmtTimes(ts []time.Time) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.Format("15:04:05"))
	}
	return "[" + strings.Join(s, " ") + "]"
}
