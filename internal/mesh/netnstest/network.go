package netnstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/outrider-sec/outrider/internal/netns"
)

// Require fails the test unless it runs as root with ip and iptables-restore installed.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test builds network namespaces, veth pairs and iptables rules: run it as root")
	}
	for _, tool := range []string{"ip", "iptables-restore", "iptables-save"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this test needs %s (packages iproute2 and iptables): %v", tool, err)
		}
	}
}

// Network is a bridge in its own namespace and the nodes attached to it, on 10.201.X.0/24.
type Network struct {
	t      testing.TB
	prefix string       // namespace name prefix, "ortest-<random>"
	subnet netip.Prefix // 10.201.X.0/24
	bridge *Node        // the namespace holding the bridge
	nodes  []*Node
}

// Bridge is the name of the bridge inside the switch namespace.
const Bridge = "ortest0"

// New creates an empty network. The subnet's third octet is random, which keeps concurrent
// test runs apart in logs even though their namespaces never share addresses.
func New(t testing.TB) *Network {
	t.Helper()
	Require(t)
	var r [4]byte
	rand.Read(r[:])
	n := &Network{
		t:      t,
		prefix: "ortest-" + hex.EncodeToString(r[:3]),
		subnet: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 201, 1 + r[3]%250, 0}), 24),
	}
	n.bridge = n.newNamespace("sw")
	n.bridge.ip("link", "add", Bridge, "type", "bridge")
	n.bridge.ip("link", "set", Bridge, "up")
	return n
}

// Subnet returns the network's prefix.
func (n *Network) Subnet() netip.Prefix { return n.subnet }

// Node is one network namespace on the bridge, with eth0 at Addr and lo up.
type Node struct {
	Name string // the namespace's name under /run/netns
	Addr netip.Addr
	NS   *netns.NS
	net  *Network
	port string // the veth end in the bridge's namespace
}

// Path returns the namespace's path, for proxy.Config.NetNS.
func (nd *Node) Path() string { return "/run/netns/" + nd.Name }

func (n *Network) newNamespace(suffix string) *Node {
	n.t.Helper()
	name := n.prefix + "-" + suffix
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		n.t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	n.t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			n.t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	ns, err := netns.Open("/run/netns/" + name)
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { ns.Close() })
	nd := &Node{Name: name, NS: ns, net: n}
	nd.ip("link", "set", "lo", "up")
	return nd
}

// AddNode creates a namespace, links it to the bridge and gives it the next address.
func (n *Network) AddNode(name string) *Node {
	n.t.Helper()
	nd := n.newNamespace(name)
	idx := len(n.nodes) + 1
	a := n.subnet.Addr().As4()
	a[3] = byte(idx + 1)
	nd.Addr = netip.AddrFrom4(a)
	nd.port = fmt.Sprintf("p%d", idx)
	n.bridge.ip("link", "add", nd.port, "type", "veth", "peer", "name", "eth0", "netns", nd.Name)
	n.bridge.ip("link", "set", nd.port, "master", Bridge, "up")
	nd.ip("addr", "add", netip.PrefixFrom(nd.Addr, n.subnet.Bits()).String(), "dev", "eth0")
	nd.ip("link", "set", "eth0", "up")
	n.nodes = append(n.nodes, nd)
	return nd
}

// ip runs `ip -n <node> args...` and fails the test on error.
func (nd *Node) ip(args ...string) {
	nd.net.t.Helper()
	args = append([]string{"-n", nd.Name}, args...)
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		nd.net.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Exec runs a command inside the node's namespace and returns its combined output.
func (nd *Node) Exec(name string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", nd.Name, name}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Do runs fn on a thread inside the node's namespace.
func (nd *Node) Do(fn func() error) error { return nd.NS.Do(fn) }

// Listen opens a TCP listener inside the node; it is closed at cleanup.
func (nd *Node) Listen(addr string) net.Listener {
	nd.net.t.Helper()
	var ln net.Listener
	if err := nd.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		nd.net.t.Fatalf("listen %s in %s: %v", addr, nd.Name, err)
	}
	nd.net.t.Cleanup(func() { ln.Close() })
	return ln
}

// Dial connects from inside the node, as an application there would.
func (nd *Node) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var c net.Conn
	err := nd.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	return c, err
}

// AddrPort returns the node's address with port.
func (nd *Node) AddrPort(port uint16) string {
	return netip.AddrPortFrom(nd.Addr, port).String()
}
