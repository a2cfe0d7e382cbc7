package capture

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/outrider-sec/outrider/internal/mesh/netnstest"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// The tests run processes with other credentials (the application, the proxy, impostors) by
// starting this test binary again in helper mode: OUTRIDER_CAPTURE_HELPER names the action,
// and the result is one JSON line on standard output.
const helperEnv = "OUTRIDER_CAPTURE_HELPER"

func TestMain(m *testing.M) {
	if action := os.Getenv(helperEnv); action != "" {
		os.Exit(helperMain(action))
	}
	code := m.Run()
	if helperDir != "" {
		os.RemoveAll(helperDir)
	}
	os.Exit(code)
}

// helperResult is what a helper reports: the greeting of the listener it reached, or why it
// reached none ("refused", "EPERM", ...).
type helperResult struct {
	Greeting string `json:"greeting,omitempty"`
	Err      string `json:"err,omitempty"`
}

func (r helperResult) String() string {
	if r.Err != "" {
		return "error " + r.Err
	}
	return r.Greeting
}

func helperMain(action string) int {
	mark := -1
	if m := os.Getenv("OUTRIDER_CAPTURE_MARK"); m != "" {
		n, _ := strconv.ParseInt(m, 0, 64)
		mark = int(n)
	}
	var res helperResult
	switch action {
	case "dial":
		res = helperDial(os.Getenv("OUTRIDER_CAPTURE_ADDR"), mark, os.Getenv("OUTRIDER_CAPTURE_DEVICE"))
	case "apply":
		// As the init container runs: in its own namespace, with whatever capabilities
		// it was started with.
		if _, err := Apply(context.Background(), Config{}, Options{}); err != nil {
			res.Err = err.Error()
		}
	case "setmark":
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err == nil {
			err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, mark)
			unix.Close(fd)
		}
		res.Err = classify(err)
	default:
		res.Err = "unknown action " + action
	}
	json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

// helperDial connects to addr, with mark on the socket when it is not negative and bound to
// device when one is named, and reads the listener's greeting.
func helperDial(addr string, mark int, device string) helperResult {
	d := net.Dialer{Timeout: 3 * time.Second}
	d.Control = func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			if mark >= 0 {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, mark)
			}
			if serr == nil && device != "" {
				serr = unix.BindToDevice(int(fd), device)
			}
		}); err != nil {
			return err
		}
		return serr
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return helperResult{Err: classify(err)}
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return helperResult{Err: "no greeting: " + classify(err)}
	}
	return helperResult{Greeting: strings.TrimSpace(line)}
}

func classify(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EPERM):
		return "EPERM"
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return err.Error()
}

// helperDir holds a copy of the test binary that other users can run: go test builds it in
// a directory only root may enter.
var (
	helperOnce sync.Once
	helperDir  string
	helperPath string
	helperErr  error
)

func helperBinary(t testing.TB) string {
	t.Helper()
	helperOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ortest-cap-helper-")
		if err != nil {
			helperErr = err
			return
		}
		helperDir = dir
		if helperErr = os.Chmod(dir, 0o755); helperErr != nil {
			return
		}
		self, err := os.ReadFile("/proc/self/exe")
		if err != nil {
			helperErr = err
			return
		}
		helperPath = filepath.Join(dir, "capture.test")
		helperErr = os.WriteFile(helperPath, self, 0o755)
	})
	if helperErr != nil {
		t.Fatalf("copying the test binary for helper processes: %v", helperErr)
	}
	return helperPath
}

// identity is who a helper process runs as: the credentials and capabilities it starts with
// and the mark it puts on its sockets (-1: none).
type identity struct {
	name     string
	uid, gid uint32
	caps     []uintptr // ambient capabilities
	mark     int
	device   string // SO_BINDTODEVICE
	asRoot   bool   // keep the test's own root credentials and capabilities
}

var (
	// theApp is an application container as admission lets it run: its own UID, no
	// capabilities.
	theApp = identity{name: "app", uid: 1000, gid: 1000, mark: -1}
	// rootApp is an application running as root with every capability but no mark: the rules
	// alone must stop it (admission keeps it from being that powerful).
	rootApp = identity{name: "root app", asRoot: true, mark: -1}
	// theProxy runs as the proxy's UID and GID, with CAP_NET_ADMIN to set its mark.
	theProxy = identity{name: "proxy", uid: uint32(proxy.ProxyUID), gid: uint32(proxy.ProxyGID),
		caps: []uintptr{unix.CAP_NET_ADMIN}, mark: proxy.ProxyMark}
	// proxyUIDNoMark has the proxy's UID and GID but cannot set the mark: an app that
	// managed to run as the proxy's user.
	proxyUIDNoMark = identity{name: "proxy UID without mark", uid: uint32(proxy.ProxyUID), gid: uint32(proxy.ProxyGID), mark: -1}
	// markNotProxy sets the proxy's mark with CAP_NET_RAW (enough since Linux 5.17, and in
	// container runtimes' default capability set) but runs as another user.
	markNotProxy = identity{name: "proxy mark without UID", uid: 1000, gid: 1000,
		caps: []uintptr{unix.CAP_NET_RAW}, mark: proxy.ProxyMark}
)

// runHelper runs the helper action in the node's namespace as id.
func runHelper(t testing.TB, nd *netnstest.Node, id identity, action, addr string) helperResult {
	t.Helper()
	cmd := exec.Command(helperBinary(t), "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+action, "OUTRIDER_CAPTURE_ADDR="+addr,
		fmt.Sprintf("OUTRIDER_CAPTURE_MARK=%d", id.mark), "OUTRIDER_CAPTURE_DEVICE="+id.device)
	if !id.asRoot {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential:  &syscall.Credential{Uid: id.uid, Gid: id.gid, Groups: []uint32{}},
			AmbientCaps: id.caps,
		}
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	// The helper inherits the namespace of the thread that starts it.
	if err := nd.Do(cmd.Run); err != nil {
		t.Fatalf("helper %s as %s: %v: %s", action, id.name, err, errb.String())
	}
	var res helperResult
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("helper %s as %s: %v: %q %s", action, id.name, err, out.String(), errb.String())
	}
	return res
}

// serveGreeting accepts connections on ln and greets each with "<name> <original
// destination>", or "<name> -" when the connection came to the address it was meant for
// (conntrack keeps an original destination for every connection, redirected or not), then
// closes it.
func serveGreeting(ln net.Listener, name string) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s %s\n", name, originalDst(c))
			c.Close()
		}
	}()
}

// originalDst reads SO_ORIGINAL_DST (80, at SOL_IP or SOL_IPV6), as the proxy does.
func originalDst(c net.Conn) string {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return "-"
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return "-"
	}
	v4 := tc.LocalAddr().(*net.TCPAddr).IP.To4() != nil
	var dst netip.AddrPort
	var serr error
	raw.Control(func(fd uintptr) {
		if v4 {
			var m *unix.IPv6Mreq
			if m, serr = unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, 80); serr == nil {
				b := m.Multiaddr[:]
				dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:4]))
			}
			return
		}
		var info *unix.IPv6MTUInfo
		if info, serr = unix.GetsockoptIPv6MTUInfo(int(fd), unix.SOL_IPV6, 80); serr == nil {
			var p [2]byte // Port holds the bytes of a network-order value
			binary.NativeEndian.PutUint16(p[:], info.Addr.Port)
			dst = netip.AddrPortFrom(netip.AddrFrom16(info.Addr.Addr), binary.BigEndian.Uint16(p[:]))
		}
	})
	local := tc.LocalAddr().(*net.TCPAddr).AddrPort()
	if serr != nil || (dst.Addr() == local.Addr().Unmap().WithZone("") && dst.Port() == local.Port()) {
		return "-"
	}
	return dst.String()
}
