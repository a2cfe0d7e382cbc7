package capture

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/outrider-sec/outrider/internal/mesh/netnstest"
)

// runAs runs a command in the node's namespace as id and returns its combined output.
func runAs(t *testing.T, nd *netnstest.Node, id identity, stdin, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: id.uid, Gid: id.gid, Groups: []uint32{}},
		AmbientCaps: id.caps,
	}
	var out []byte
	err := nd.Do(func() (err error) {
		out, err = cmd.CombinedOutput()
		return err
	})
	return string(out), err
}

// TestAppCannotSkipCaptureWithoutNetAdmin: an application as admission lets it run (its own
// UID, no capabilities; or with NET_RAW, which runtimes grant by default) can neither put the
// proxy's mark on its sockets nor change, flush or replace the rules, with either backend's
// tools. Afterwards the rules are intact and its traffic still goes through the proxy.
func TestAppCannotSkipCaptureWithoutNetAdmin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		p := newPodNet(t, b)
		p.capture(Config{})
		if res := runHelper(t, p.pod, theApp, "setmark", ""); res.Err != "EPERM" {
			t.Errorf("app setting SO_MARK: got %q, want EPERM", res)
		}
		attempts := [][]string{
			{"iptables-nft", "-t", "nat", "-F"},
			{"iptables-legacy", "-t", "nat", "-F"},
			{"ip6tables-nft", "-t", "nat", "-F"},
			{"iptables-nft", "-t", "filter", "-I", "OUTPUT", "1", "-j", "ACCEPT"},
			{"iptables-legacy", "-t", "filter", "-I", "OUTPUT", "1", "-j", "ACCEPT"},
			{"iptables-nft", "-t", "mangle", "-A", "OUTPUT", "-j", "MARK", "--set-mark", "0x539"},
			{"iptables-nft-restore"},
			{"iptables-legacy-restore"},
		}
		for _, id := range []identity{theApp, markNotProxy} {
			for _, a := range attempts {
				out, err := runAs(t, p.pod, id, "*nat\nCOMMIT\n", a[0], a[1:]...)
				if err == nil {
					t.Errorf("%s ran %s: it succeeded: %s", id.name, strings.Join(a, " "), out)
				} else if !strings.Contains(out, "ermission denied") && !strings.Contains(out, "not permitted") {
					t.Errorf("%s ran %s: it failed for another reason than privilege: %v: %s", id.name, strings.Join(a, " "), err, out)
				}
			}
		}
		if _, err := Verify(testContext(t), Config{}, Options{NetNS: p.pod.Path(), Backend: b}); err != nil {
			t.Errorf("after the attempts: %v", err)
		}
		expect(t, "app to the peer", p.fromPod(theApp, v4(p.peer, peerPort)), "outbound "+v4(p.peer, peerPort))
	})
}
