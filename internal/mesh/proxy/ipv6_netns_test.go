package proxy_test

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// captureRules6 redirects a pod's outbound IPv6 TCP to the proxy, which REDIRECT sends to
// [::1]:15001, except the proxy's own (marked) packets and loopback.
var captureRules6 = fmt.Sprintf(`*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A OUTPUT -p tcp -m mark --mark %#x -j RETURN
-A OUTPUT -p tcp -o lo -j RETURN
-A OUTPUT -p tcp -j REDIRECT --to-ports 15001
COMMIT
`, proxy.ProxyMark)

// addIPv6 gives the pod a unique-local address on eth0 and returns it.
func (p *pod) addIPv6(t *testing.T) netip.Addr {
	t.Helper()
	v4 := p.Addr.As4()
	a := netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x00, 2: 0x02, 3: 0x01, 15: v4[3]})
	if out, err := p.Exec("ip", "-6", "addr", "add", a.String()+"/64", "dev", "eth0", "nodad"); err != nil {
		t.Fatalf("ip -6 addr add in %s: %v: %s", p.Name, err, out)
	}
	return a
}

// captureIPv6 installs captureRules6 in the pod.
func (p *pod) captureIPv6(t *testing.T) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", p.Name, "ip6tables-restore")
	cmd.Stdin = strings.NewReader(captureRules6)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip6tables-restore in %s: %v: %s", p.Name, err, out)
	}
}

// TestOutboundIPv6ReachesTheProxy: the application's IPv6 connections, which capture
// redirects to [::1]:15001, reach the proxy and follow its egress setting: passed through
// with allow, refused and logged with their IPv6 destination with deny. Direct connections to
// [::1]:15001 are refused like those to 127.0.0.1:15001.
func TestOutboundIPv6ReachesTheProxy(t *testing.T) {
	m := newMesh(t)
	open := m.addPod("frontend", "shop", podOptions{})
	closed := m.addPod("closed", "shop", podOptions{config: func(c *proxy.Config) { c.Egress = proxy.EgressDeny }})
	outside := m.addPod("outside", "web", podOptions{noProxy: true})
	open.addIPv6(t)
	closed.addIPv6(t)
	dst := netip.AddrPortFrom(outside.addIPv6(t), appPort).String()
	open.captureIPv6(t)
	closed.captureIPv6(t)

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, err := open.Dial(ctx, dst)
	must(t, err)
	must(t, roundTrip(c, []byte("over IPv6 through the proxy")))
	c.Close()
	if n := metricValue(t, open, "outrider_proxy_outbound_connections_total", map[string]string{"kind": "passthrough"}); n != 1 {
		t.Errorf("passthrough connections counted: %v, want 1", n)
	}

	c, err = closed.Dial(ctx, dst)
	expectRefused(t, c, err)
	closed.logs.waitFor(t, "connection denied", map[string]any{"direction": "outbound", "reason": "egress-denied", "remote": dst})

	c, err = open.Dial(ctx, "[::1]:15001")
	expectRefused(t, c, err)
	open.logs.waitFor(t, "connection denied", map[string]any{"direction": "outbound", "reason": "not-redirected"})
}
