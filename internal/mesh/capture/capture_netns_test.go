package capture

import (
	"fmt"
	"testing"
)

// Each test below is an attack on the capture, run against real namespaces with each backend.
// A test first shows that, without the rules, the attack would work (or the listener is there),
// then that the rules stop it.

// TestPeerCannotReachAppAroundProxy: a client in another pod connects to the application's
// port, over IPv4, IPv6 and IPv6 link-local (which every interface has, even in an IPv4-only
// cluster), and must land on the proxy's inbound listener with the original destination kept.
func TestPeerCannotReachAppAroundProxy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		p := newPodNet(t, b)
		targets := []string{v4(p.pod, appPort), v6(p.podV6, appPort), ll(p.podLL, appPort)}
		for _, addr := range targets {
			expect(t, "before capture, peer to "+addr, p.fromPeer(addr), "app -")
		}
		p.capture(Config{})
		expect(t, "peer to the app over IPv4", p.fromPeer(targets[0]), "inbound "+v4(p.pod, appPort))
		expect(t, "peer to the app over IPv6", p.fromPeer(targets[1]), "inbound "+v6(p.podV6, appPort))
		expect(t, "peer to the app over IPv6 link-local", p.fromPeer(targets[2]), "inbound "+v6(p.podLL, appPort))
	})
}

// TestAppCannotSendAroundProxy: the application (and a root process without the proxy's
// identity) connects to another pod and must land on the proxy's outbound listener.
func TestAppCannotSendAroundProxy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		p := newPodNet(t, b)
		peer := v4(p.peer, peerPort)
		expect(t, "before capture", p.fromPod(theApp, peer), "peer -")
		p.capture(Config{})
		for _, id := range []identity{theApp, rootApp} {
			expect(t, id.name+" to the peer", p.fromPod(id, peer), "outbound "+peer)
		}
	})
}

// TestAppCannotSendAroundProxyOverIPv6: the proxy listens for outbound connections on
// 127.0.0.1 only, so the application's IPv6 connections are redirected to [::1]:15001 and
// refused there: IPv6 fails closed rather than going around the proxy. A connection to a
// link-local address is bound to its interface, where ::1 is unreachable: it is dropped. Once
// something listens on [::1]:15001 they land on it.
func TestAppCannotSendAroundProxyOverIPv6(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		p := newPodNet(t, b)
		for _, addr := range []string{v6(p.peerV6, peerPort), ll(p.peerLL, peerPort)} {
			expect(t, "before capture, app to "+addr, p.fromPod(theApp, addr), "peer -")
		}
		p.capture(Config{})
		expect(t, "app to the peer over IPv6", p.fromPod(theApp, v6(p.peerV6, peerPort)), "error refused")
		expect(t, "app to the peer over IPv6 link-local", p.fromPod(theApp, ll(p.peerLL, peerPort)), "error timeout")
		serveGreeting(p.pod.Listen(fmt.Sprintf("[::1]:%d", DefaultOutboundPort)), "outbound6")
		expect(t, "app to the peer over IPv6 with a proxy on [::1]", p.fromPod(theApp, v6(p.peerV6, peerPort)),
			"outbound6 "+v6(p.peerV6, peerPort))
	})
}

// TestAppBoundToItsInterfaceCannotSendAroundProxy: a socket bound to eth0 (SO_BINDTODEVICE,
// allowed without privilege since Linux 5.7) is still redirected; 127.0.0.1 cannot be reached
// through eth0, so the connection is dropped instead of leaving the pod.
func TestAppBoundToItsInterfaceCannotSendAroundProxy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		p := newPodNet(t, b)
		bound := theApp
		bound.name, bound.device = "app bound to eth0", "eth0"
		expect(t, "before capture", p.fromPod(bound, v4(p.peer, peerPort)), "peer -")
		p.capture(Config{})
		expect(t, "bound app to the peer", p.fromPod(bound, v4(p.peer, peerPort)), "error timeout")
		expect(t, "bound app to the peer over IPv6", p.fromPod(bound, v6(p.peerV6, peerPort)), "error timeout")
	})
}

// TestProxyOwnConnectionsAreNotRedirected: the proxy (UID 1337, GID 1337, mark 0x539) reaches
// peers directly and the application on loopback without looping back into itself; when it
// dials the pod's own address (an application calling itself through the mesh) it goes
// through its inbound side.
func TestProxyOwnConnectionsAreNotRedirected(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		p := newPodNet(t, b)
		p.capture(Config{})
		expect(t, "proxy to the peer", p.fromPod(theProxy, v4(p.peer, peerPort)), "peer -")
		expect(t, "proxy to the peer over IPv6", p.fromPod(theProxy, v6(p.peerV6, peerPort)), "peer -")
		expect(t, "proxy to the app on loopback", p.fromPod(theProxy, fmt.Sprintf("127.0.0.1:%d", appPort)), "app -")
		expect(t, "proxy to the app on ::1", p.fromPod(theProxy, fmt.Sprintf("[::1]:%d", appPort)), "app -")
		expect(t, "proxy to the pod's own address", p.fromPod(theProxy, v4(p.pod, appPort)), "inbound "+v4(p.pod, appPort))
		expect(t, "proxy to the pod's own IPv6 address", p.fromPod(theProxy, v6(p.podV6, appPort)), "inbound "+v6(p.podV6, appPort))
		expect(t, "proxy to its metrics", p.fromPod(theProxy, fmt.Sprintf("127.0.0.1:%d", DefaultProxyPorts[0])), "metrics -")
	})
}

// TestAppCallingItselfStaysInThePod: the application's connections to itself, on loopback or
// on the pod's own address, are not redirected (they never leave the pod).
func TestAppCallingItselfStaysInThePod(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		p := newPodNet(t, b)
		p.capture(Config{})
		for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", appPort), fmt.Sprintf("[::1]:%d", appPort),
			v4(p.pod, appPort), v6(p.podV6, appPort)} {
			expect(t, "app to itself at "+addr, p.fromPod(theApp, addr), "app -")
		}
	})
}

// TestAppCannotConnectToProxyPrivatePorts: invariant 5. No process in the pod but the proxy
// reaches the proxy's ports, on any local address: 127.0.0.1 (and the rest of 127/8), ::1,
// the pod's IPv4 and IPv6 addresses. Impostors with half the proxy's identity fail too.
func TestAppCannotConnectToProxyPrivatePorts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		p := newPodNet(t, b)
		var addrs []string
		for _, port := range []uint16{DefaultInboundPort, DefaultOutboundPort, DefaultProxyPorts[0]} {
			addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.2:%d", port),
				fmt.Sprintf("[::1]:%d", port), v4(p.pod, port), v6(p.podV6, port))
		}
		expect(t, "before capture, app to the metrics", p.fromPod(theApp, fmt.Sprintf("127.0.0.1:%d", DefaultProxyPorts[0])), "metrics -")
		expect(t, "before capture, app to the inbound listener", p.fromPod(theApp, v4(p.pod, DefaultInboundPort)), "inbound -")
		p.capture(Config{})
		for _, id := range []identity{theApp, rootApp, proxyUIDNoMark, markNotProxy} {
			for _, addr := range addrs {
				expect(t, id.name+" to "+addr, p.fromPod(id, addr), "error refused")
			}
		}
	})
}

// TestPeerCannotReachProxyListenersDirectly: from outside the pod, the proxy's listeners take
// only what the rules redirected to them. A direct connection to the inbound port is refused,
// and so is one to the outbound port on the pod's address even when the application listens
// there itself to take inbound connections around the proxy. The metrics port stays open to
// peers, for Prometheus.
func TestPeerCannotReachProxyListenersDirectly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		p := newPodNet(t, b)
		serveGreeting(p.pod.Listen(v4(p.pod, DefaultOutboundPort)), "impostor")
		serveGreeting(p.pod.Listen(v6(p.podV6, DefaultOutboundPort)), "impostor")
		expect(t, "before capture, peer to the impostor", p.fromPeer(v4(p.pod, DefaultOutboundPort)), "impostor -")
		p.capture(Config{})
		for _, addr := range []string{v4(p.pod, DefaultInboundPort), v6(p.podV6, DefaultInboundPort), ll(p.podLL, DefaultInboundPort),
			v4(p.pod, DefaultOutboundPort), v6(p.podV6, DefaultOutboundPort)} {
			expect(t, "peer to "+addr, p.fromPeer(addr), "error refused")
		}
		expect(t, "peer to the metrics", p.fromPeer(v4(p.pod, DefaultProxyPorts[0])), "metrics -")
	})
}

// TestAppWithProxyUIDButNoMarkIsCaptured: an application that runs as the proxy's UID and GID
// (admission refuses it; this is the rules' own line of defence) still goes through the proxy,
// because the exemption needs the mark too.
func TestAppWithProxyUIDButNoMarkIsCaptured(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		p := newPodNet(t, b)
		p.capture(Config{})
		expect(t, "impostor to the peer", p.fromPod(proxyUIDNoMark, v4(p.peer, peerPort)), "outbound "+v4(p.peer, peerPort))
	})
}

// TestAppWithProxyMarkButNotProxyUIDIsCaptured: CAP_NET_RAW alone lets a process set SO_MARK
// (Linux 5.17 and later), and container runtimes grant NET_RAW by default. An application that
// sets the proxy's mark that way still goes through the proxy, because the exemption needs the
// proxy's UID and GID too.
func TestAppWithProxyMarkButNotProxyUIDIsCaptured(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		p := newPodNet(t, b)
		p.capture(Config{})
		if res := runHelper(t, p.pod, markNotProxy, "setmark", ""); res.Err != "" {
			t.Fatalf("with CAP_NET_RAW, setting SO_MARK: %s (this kernel needs CAP_NET_ADMIN; the test's premise changed)", res.Err)
		}
		expect(t, "impostor to the peer", p.fromPod(markNotProxy, v4(p.peer, peerPort)), "outbound "+v4(p.peer, peerPort))
	})
}

// TestExcludedPortsAndCIDRsGoAroundTheProxy: the configured exclusions, and only they, bypass
// the proxy.
func TestExcludedPortsAndCIDRsGoAroundTheProxy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		p := newPodNet(t, b)
		other := p.net.AddNode("cap-other")
		serveGreeting(p.pod.Listen(":8081"), "app2")
		serveGreeting(p.peer.Listen(":9091"), "peer9091")
		serveGreeting(other.Listen(fmt.Sprintf(":%d", peerPort)), "other")
		cfg := Config{ExcludeInboundPorts: []uint16{8081}, ExcludeOutboundPorts: []uint16{9091}}
		cfg.ExcludeOutboundCIDRs = append(cfg.ExcludeOutboundCIDRs, prefixOf(other.Addr))
		p.capture(cfg)
		expect(t, "peer to the excluded inbound port", p.fromPeer(v4(p.pod, 8081)), "app2 -")
		expect(t, "peer to the app", p.fromPeer(v4(p.pod, appPort)), "inbound "+v4(p.pod, appPort))
		expect(t, "app to the excluded outbound port", p.fromPod(theApp, v4(p.peer, 9091)), "peer9091 -")
		expect(t, "app to the excluded CIDR", p.fromPod(theApp, v4(other, peerPort)), "other -")
		expect(t, "app to the peer", p.fromPod(theApp, v4(p.peer, peerPort)), "outbound "+v4(p.peer, peerPort))
	})
}
