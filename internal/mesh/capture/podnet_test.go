package capture

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/outrider-sec/outrider/internal/mesh/netnstest"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// Ports of the applications in the test pods.
const (
	appPort  = 8080 // the pod's application
	peerPort = 9090 // an application in another pod
)

// ula is the IPv6 prefix the tests give the nodes (a unique local prefix, private to the
// namespaces). Each node also gets a link-local address. Both are added without duplicate
// address detection, so they work at once.
const ula = "fd0c:a9e0:0:1::"

// podNet is a meshed pod and a peer on a bridge, each with an IPv4, a unique local IPv6 and
// a link-local IPv6 address. The pod has listeners standing in for the proxy where the proxy
// listens (inbound on 0.0.0.0:15006, outbound on 127.0.0.1:15001, metrics on :15090, as
// package proxy's defaults say) and the application on :8080; the peer has one on :9090.
// Every listener greets a connection with its name and the original destination.
type podNet struct {
	t       *testing.T
	backend Backend
	net     *netnstest.Network
	pod     *netnstest.Node
	peer    *netnstest.Node
	podV6   netip.Addr
	peerV6  netip.Addr
	podLL   netip.Addr
	peerLL  netip.Addr
}

func newPodNet(t *testing.T, b Backend) *podNet {
	t.Helper()
	requireTools(t)
	n := netnstest.New(t)
	p := &podNet{t: t, backend: b, net: n, pod: n.AddNode("cap-pod"), peer: n.AddNode("cap-peer")}
	p.podV6, p.podLL = p.addIPv6(p.pod)
	p.peerV6, p.peerLL = p.addIPv6(p.peer)
	for name, addr := range map[string]string{
		"inbound":  proxy.DefaultInboundAddr,
		"outbound": proxy.DefaultOutboundAddr,
		"metrics":  proxy.DefaultMetricsAddr,
		"app":      fmt.Sprintf(":%d", appPort),
	} {
		serveGreeting(p.pod.Listen(addr), name)
	}
	serveGreeting(p.peer.Listen(fmt.Sprintf(":%d", peerPort)), "peer")
	return p
}

// addIPv6 gives the node ula::<n> and fe80::cafe:<n>, n the last byte of its IPv4 address.
func (p *podNet) addIPv6(nd *netnstest.Node) (global, linkLocal netip.Addr) {
	p.t.Helper()
	n := nd.Addr.As4()[3]
	global = netip.MustParseAddr(fmt.Sprintf("%s%x", ula, n))
	linkLocal = netip.MustParseAddr(fmt.Sprintf("fe80::cafe:%x", n))
	for _, a := range []netip.Addr{global, linkLocal} {
		if out, err := nd.Exec("ip", "-6", "addr", "add", a.String()+"/64", "dev", "eth0", "nodad"); err != nil {
			p.t.Fatalf("adding %s to %s: %v: %s", a, nd.Name, err, out)
		}
	}
	return global, linkLocal
}

// capture installs the capture rules for cfg in the pod.
func (p *podNet) capture(cfg Config) Result {
	p.t.Helper()
	res, err := Apply(testContext(p.t), cfg, Options{NetNS: p.pod.Path(), Backend: p.backend})
	if err != nil {
		p.t.Fatalf("applying the capture: %v", err)
	}
	return res
}

// fromPod connects to addr from a process in the pod running as id.
func (p *podNet) fromPod(id identity, addr string) string {
	p.t.Helper()
	return runHelper(p.t, p.pod, id, "dial", addr).String()
}

// fromPeer connects to addr from the peer's namespace.
func (p *podNet) fromPeer(addr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := p.peer.Dial(ctx, addr)
	if err != nil {
		return "error " + classify(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "error no greeting: " + classify(err)
	}
	return strings.TrimSpace(line)
}

// v4, v6 and ll format the pod's or peer's addresses with a port.
func v4(nd *netnstest.Node, port uint16) string { return nd.AddrPort(port) }
func v6(a netip.Addr, port uint16) string       { return netip.AddrPortFrom(a, port).String() }
func ll(a netip.Addr, port uint16) string {
	return netip.AddrPortFrom(a.WithZone("eth0"), port).String()
}

// forEachBackend runs fn once with each iptables backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, b Backend)) {
	for _, b := range backends {
		t.Run(string(b), func(t *testing.T) { fn(t, b) })
	}
}

// expect checks one connection's outcome.
func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// prefixOf returns the single-address prefix of a.
func prefixOf(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }
