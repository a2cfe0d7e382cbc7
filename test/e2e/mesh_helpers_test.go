//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/outrider-sec/outrider/internal/mesh/netnstest"
)

// --- running commands in pods ---

// execIn runs script with sh in a container of a pod and returns its output (stdout and
// stderr). It never fails the test: callers judge the output.
func execIn(ctx context.Context, ns, pod, container, script string) (string, error) {
	out, errOut, err := kubectl(ctx, "exec", "-n", ns, pod, "-c", container, "--", "sh", "-c", script)
	return out + errOut, err
}

// httpGetScript is a shell snippet that sends one HTTP/1.0 GET for path to ip:port with busybox
// nc (busybox wget crashes on this machine) and prints "ok" when the answer contains want, or
// "fail <the start of what it got>". It always exits 0.
func httpGetScript(ip string, port int, path, want string) string {
	return fmt.Sprintf(`r=$(printf 'GET %s HTTP/1.0\r\n\r\n' | timeout 5 nc -w 3 %s %d 2>&1)
case "$r" in *%s*) echo ok ;; *) echo "fail $(printf '%%s' "$r" | head -c 160 | tr '\r\n' '  ')" ;; esac`, path, ip, port, want)
}

// loopScript repeats snippet every pause for at most d, then prints "end". The bound keeps
// the loop from outliving the test should the exec stream be cut.
func loopScript(snippet string, d time.Duration, pause string) string {
	return fmt.Sprintf("end=$(( $(date +%%s) + %d ))\nwhile [ $(date +%%s) -lt $end ]; do\n%s\nsleep %s\ndone\necho end\n",
		int(d.Seconds())+1, snippet, pause)
}

// timedLine is a line of a streamed command's output with the time it reached the test.
type timedLine struct {
	at   time.Time
	text string
}

// execStream is a command running in a pod (through kubectl exec) whose output lines are
// timestamped as they arrive. The delay from the pod to the test is that of the exec stream
// (a few milliseconds here), which makes the times upper bounds of what happened in the pod.
type execStream struct {
	cmd                *exec.Cmd
	ns, pod, container string
	pidFile            string // where the remote shell wrote its PID
	done               chan struct{}
	stderr             bytes.Buffer

	mu    sync.Mutex
	lines []timedLine
	added chan struct{} // closed and replaced whenever a line arrives
}

// startExec starts script in a container of a pod (whose /tmp must be writable) and stops it
// when the test ends.
func startExec(t *testing.T, ns, pod, container, script string) *execStream {
	t.Helper()
	s := &execStream{done: make(chan struct{}), added: make(chan struct{}), ns: ns, pod: pod, container: container,
		pidFile: "/tmp/.e2e-exec-" + rand.String(8)}
	script = "echo $$ >" + s.pidFile + "\n" + script
	s.cmd = exec.Command(env.kubectl, "--kubeconfig", env.kubeconfig, "exec", "-n", ns, pod, "-c", container, "--", "sh", "-c", script)
	s.cmd.Stderr = &s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting kubectl exec in %s/%s: %v", ns, pod, err)
	}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, timedLine{at: time.Now(), text: sc.Text()})
			close(s.added)
			s.added = make(chan struct{})
			s.mu.Unlock()
		}
		_ = s.cmd.Wait()
	}()
	t.Cleanup(s.stop)
	return s
}

// killTree stops the remote shell whose PID is in the file $1 and every process under it. Ending
// kubectl exec would not: the shell in the container outlives the stream.
// busybox has no pgrep here: children are found by the parent PID in /proc/<pid>/stat.
const killTree = `kids() { for f in /proc/[0-9]*/stat; do read -r pid comm state ppid rest <$f 2>/dev/null && [ "$ppid" = "$1" ] && echo $pid; done; }
kt() { kill -STOP $1 2>/dev/null; for c in $(kids $1); do kt $c; done; kill -KILL $1 2>/dev/null; }
p=$(cat "$1") && kt $p; rm -f "$1"`

// stop ends the command: in the container, then the local kubectl (the process this test
// started); it waits for the output.
func (s *execStream) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, _, _ = kubectl(ctx, "exec", "-n", s.ns, s.pod, "-c", s.container, "--", "sh", "-c", killTree, "kill-tree", s.pidFile)
	_ = s.cmd.Process.Kill()
	<-s.done
}

// snapshot returns the lines so far.
func (s *execStream) snapshot() []timedLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines)
}

// waitFor waits until some line at index >= from satisfies ok and returns its index, or -1
// when timeout passes or the command ends first.
func (s *execStream) waitFor(from int, timeout time.Duration, ok func(timedLine) bool) int {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		for i := from; i < len(s.lines); i++ {
			if ok(s.lines[i]) {
				s.mu.Unlock()
				return i
			}
		}
		from = max(from, len(s.lines))
		added := s.added
		s.mu.Unlock()
		select {
		case <-added:
		case <-s.done:
			// Lines may have arrived just before the end.
			s.mu.Lock()
			n := len(s.lines)
			s.mu.Unlock()
			if from >= n {
				return -1
			}
		case <-deadline:
			return -1
		}
	}
}

func (s *execStream) describe() string {
	var b strings.Builder
	lines := s.snapshot()
	if len(lines) > 40 {
		fmt.Fprintf(&b, "(%d earlier lines)\n", len(lines)-40)
		lines = lines[len(lines)-40:]
	}
	for _, l := range lines {
		fmt.Fprintf(&b, "%s %s\n", l.at.Format("15:04:05.000"), l.text)
	}
	if e := strings.TrimSpace(s.stderr.String()); e != "" {
		fmt.Fprintf(&b, "stderr: %s\n", e)
	}
	return b.String()
}

func isOK(l timedLine) bool   { return l.text == "ok" }
func isFail(l timedLine) bool { return strings.HasPrefix(l.text, "fail") }

// --- the proxy's metrics, read from the host ---

// proxyMetrics reads the outrider-proxy metrics endpoint of a pod (<pod IP>:15090), which
// capture leaves open to the pod network; the test runs on the node, on the bridge.
func proxyMetrics(ctx context.Context, podIP string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(podIP, "15090")+"/metrics", nil)
	if err != nil {
		return "", err
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return string(b), nil
}

// proxyMetric is one metric's value (summed over the series whose labels contain every one of
// labels) in a pod's proxy.
func proxyMetric(t *testing.T, podIP, metric string, labels ...string) float64 {
	t.Helper()
	text, err := proxyMetrics(ctxFor(t, 10*time.Second), podIP)
	if err != nil {
		t.Fatalf("reading the proxy metrics of %s: %v", podIP, err)
	}
	return sumSeries(text, metric, labels)
}

// --- the containers on the node ---

// containerdSocket is the local cluster's containerd (hack/cluster/lib/common.sh CONTAINERD_SOCK).
const containerdSocket = "/run/outrider-cluster/containerd/containerd.sock"

// ctr runs containerd's ctr in the Kubernetes namespace of the local cluster's containerd.
func ctr(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", containerdSocket, "-n", "k8s.io"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// taskPID is the host PID of a running container's main process (ctr task ls).
func taskPID(ctx context.Context, containerID string) (int, error) {
	out, err := ctr(ctx, "task", "ls")
	if err != nil {
		return 0, fmt.Errorf("ctr task ls: %v: %s", err, out)
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == containerID {
			if f[2] != "RUNNING" {
				return 0, fmt.Errorf("task %s is %s", containerID, f[2])
			}
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no task %s", containerID)
}

// procStatus reads the fields of /proc/<pid>/status.
func procStatus(pid int) (map[string]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m, nil
}

// --- packet capture on the pods' bridge ---

// bridgeCapture records the IPv4 TCP payloads crossing the host's pod bridge between the
// addresses it is told to keep, with an AF_PACKET socket bound to the bridge in promiscuous
// mode: the bridge then hands the host's stack a copy of every frame it forwards between
// two pods' ports (which the stack drops as not its own), as tcpdump -i <bridge> sees them.
// Payloads are reassembled per direction by sequence number, so a marker split across segments
// is still found.
type bridgeCapture struct {
	f    *os.File
	fd   int
	done chan struct{}
	keep func(src, dst netip.Addr) bool

	mu        sync.Mutex
	frames    int // every frame the socket read
	kept      int // IPv4 TCP frames between kept addresses
	truncated int
	segments  map[tcpFlow][]netnstest.Segment
	payloads  [][]byte // every kept segment's payload, as captured
}

type tcpFlow struct{ src, dst netip.AddrPort }

func (f tcpFlow) String() string { return f.src.String() + "→" + f.dst.String() }

// captureBridge starts capturing on ifname. Stop it before reading the results.
func captureBridge(t *testing.T, ifname string, keep func(src, dst netip.Addr) bool) *bridgeCapture {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		t.Fatalf("capture: AF_PACKET socket: %v", err)
	}
	c := &bridgeCapture{fd: fd, done: make(chan struct{}), keep: keep, segments: map[tcpFlow][]netnstest.Segment{}}
	fail := func(what string, err error) {
		unix.Close(fd)
		t.Fatalf("capture on %s: %s: %v", ifname, what, err)
	}
	// A dropped frame could hide the very bytes the test looks for: Stop fails on drops.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		fail("bind", err)
	}
	// Promiscuous membership belongs to the socket: the kernel drops it when the socket closes.
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP,
		&unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}); err != nil {
		fail("promiscuous mode", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		fail("non-blocking", err)
	}
	c.f = os.NewFile(uintptr(fd), "bridge-capture")
	t.Cleanup(func() { c.f.Close() })
	go c.read()
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *bridgeCapture) read() {
	defer close(c.done)
	buf := make([]byte, 1<<20) // GSO frames on veth exceed the MTU
	for {
		n, err := c.f.Read(buf)
		if err != nil {
			return
		}
		c.record(buf[:n], n == len(buf))
	}
}

func (c *bridgeCapture) record(frame []byte, full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames++
	nf, seg, ok := netnstest.TCPSegmentOf(frame)
	if !ok || !c.keep(nf.Src.Addr(), nf.Dst.Addr()) {
		return
	}
	c.kept++
	if full {
		c.truncated++
	}
	if len(seg.Data) == 0 {
		return
	}
	payload := bytes.Clone(seg.Data)
	seg.Data = payload
	f := tcpFlow{nf.Src, nf.Dst}
	c.segments[f] = append(c.segments[f], seg)
	c.payloads = append(c.payloads, payload)
}

// stop ends the capture; it fails if the kernel dropped frames or a frame was cut, since either
// could have held what the test looks for.
func (c *bridgeCapture) stop() error {
	stats, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	c.f.Close()
	<-c.done
	if err != nil {
		return fmt.Errorf("reading the capture's statistics: %w", err)
	}
	if stats.Drops > 0 {
		return fmt.Errorf("the capture dropped %d frames", stats.Drops)
	}
	if c.truncated > 0 {
		return fmt.Errorf("%d frames did not fit the capture's buffer", c.truncated)
	}
	return nil
}

// streams returns the reassembled payload of every flow (netnstest.Reassemble).
func (c *bridgeCapture) streams() map[tcpFlow][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[tcpFlow][]byte, len(c.segments))
	for f, segs := range c.segments {
		out[f] = netnstest.Reassemble(segs)
	}
	return out
}

// find returns the flows whose reassembled payload contains marker, and whether any single
// captured segment contains it.
func (c *bridgeCapture) find(marker []byte) (flows []tcpFlow, inSegment bool) {
	for f, s := range c.streams() {
		if bytes.Contains(s, marker) {
			flows = append(flows, f)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.payloads {
		if bytes.Contains(p, marker) {
			inSegment = true
		}
	}
	return flows, inSegment
}

func (c *bridgeCapture) counts() (frames, kept int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames, c.kept
}
