package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/outrider-sec/outrider/internal/mesh/netnstest"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// markedSYNsRefused resets, on loopback, every connection whose SYN carries the proxy's mark.
const markedSYNsRefused = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A OUTPUT -o lo -p tcp --syn -m mark --mark 0x539 -j REJECT --reject-with tcp-reset
COMMIT
`

// TestNegativeMarkSetsNone: the proxy's dials, its probes' included, carry its mark by default
// and no mark at all with Mark -1 (what `outrider proxy --mark=-1` sets in pods, where the
// capture exempts it by UID and GID). A namespace whose filter table resets marked SYNs tells
// the two apart.
func TestNegativeMarkSetsNone(t *testing.T) {
	netnstest.Require(t)
	n := netnstest.New(t)
	node := n.AddNode("pod")
	node.IPTablesRestore(markedSYNsRefused)
	app := node.Listen("127.0.0.1:9000")
	go func() {
		for {
			c, err := app.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	for _, tc := range []struct {
		mark     int
		wantDial bool
	}{
		{mark: 0, wantDial: false}, // the default, proxy.ProxyMark
		{mark: -1, wantDial: true},
		{mark: 0x42, wantDial: true},
	} {
		p, err := proxy.New(proxy.Config{NetNS: node.Path(), Mark: tc.mark})
		must(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		c, err := p.Dial(ctx, "127.0.0.1:9000")
		cancel()
		if c != nil {
			c.Close()
		}
		if (err == nil) != tc.wantDial {
			t.Errorf("mark %d: dial error %v, want success %v", tc.mark, err, tc.wantDial)
		}

		s := probeServer(t, p, proxy.ProbeOptions{App: map[string]proxy.AppProbe{"/app-health/app/livez": {Port: 9000}}})
		want := http.StatusServiceUnavailable
		if tc.wantDial {
			want = http.StatusOK
		}
		if code, body := probeGet(t, s.URL, "/app-health/app/livez"); code != want {
			t.Errorf("mark %d: probe %d %q, want %d", tc.mark, code, body, want)
		}
	}
}

// dialHelperEnv makes TestUnprivilegedProxyDialsOnlyWithoutAMark the helper process.
const dialHelperEnv = "OUTRIDER_TEST_DIAL_HELPER"

// TestUnprivilegedProxyDialsOnlyWithoutAMark runs the proxy's dialer in a process with the
// proxy's UID and GID and no capabilities, as in a pod: with Mark -1 it connects, with the
// default mark it fails on SO_MARK (and sends nothing unmarked).
func TestUnprivilegedProxyDialsOnlyWithoutAMark(t *testing.T) {
	if addr := os.Getenv(dialHelperEnv); addr != "" {
		for _, mark := range []int{-1, 0} {
			p, err := proxy.New(proxy.Config{Mark: mark})
			must(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			c, err := p.Dial(ctx, addr)
			cancel()
			if err != nil {
				fmt.Printf("mark %d: %v\n", mark, err)
				continue
			}
			c.Close()
			fmt.Printf("mark %d: connected\n", mark)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test switches to the proxy's UID and needs root")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	accepted := make(chan struct{}, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()

	// A copy of the test binary the proxy's UID can execute.
	dir, err := os.MkdirTemp("", "outrider-unprivileged-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	exe := filepath.Join(dir, "proxy.test")
	src, err := os.Open(os.Args[0])
	must(t, err)
	dst, err := os.OpenFile(exe, os.O_CREATE|os.O_WRONLY, 0o755)
	must(t, err)
	_, err = io.Copy(dst, src)
	src.Close()
	must(t, err)
	must(t, dst.Close())

	cmd := exec.Command(exe, "-test.run=^TestUnprivilegedProxyDialsOnlyWithoutAMark$", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = []string{dialHelperEnv + "=" + ln.Addr().String(), "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(proxy.ProxyUID), Gid: uint32(proxy.ProxyGID), Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper as %d:%d: %v\n%s", proxy.ProxyUID, proxy.ProxyGID, err, out)
	}
	got := string(out)
	t.Logf("helper as %d:%d:\n%s", proxy.ProxyUID, proxy.ProxyGID, got)
	if !strings.Contains(got, "mark -1: connected") {
		t.Errorf("without a mark, the unprivileged proxy did not connect:\n%s", got)
	}
	if !strings.Contains(got, "mark 0: ") || !strings.Contains(got, "operation not permitted") || strings.Contains(got, "mark 0: connected") {
		t.Errorf("with the default mark, the unprivileged proxy did not fail on SO_MARK:\n%s", got)
	}
	select {
	case <-accepted:
	case <-time.After(patience):
		t.Fatal("the listener saw no connection")
	}
	select {
	case <-accepted:
		t.Error("the listener saw two connections; the marked dial must not connect")
	case <-time.After(200 * time.Millisecond):
	}
}
