package capture

import (
	"fmt"
	"strconv"
	"strings"
)

// Family is an IP family; each has its own tables (iptables, ip6tables).
type Family int

// The families.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func (f Family) String() string {
	if f == IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// command is the family's command prefix: iptables or ip6tables.
func (f Family) command() string {
	if f == IPv6 {
		return "ip6tables"
	}
	return "iptables"
}

// loopback is the family's loopback prefix, as iptables-save prints it.
func (f Family) loopback() string {
	if f == IPv6 {
		return "::1/128"
	}
	return "127.0.0.0/8"
}

// ChainPrefix starts the name of every chain the rules add.
const ChainPrefix = "OUTRIDER_"

// The chains the rules add. In nat, OUTRIDER_INBOUND redirects inbound TCP to the proxy and
// OUTRIDER_OUTPUT the application's outbound TCP; in filter, OUTRIDER_INPUT and
// OUTRIDER_OUTPUT close the proxy's ports to everything that was not redirected there.
const (
	chainInbound = ChainPrefix + "INBOUND"
	chainInput   = ChainPrefix + "INPUT"
	chainOutput  = ChainPrefix + "OUTPUT"
)

// OwnedTables are the tables Apply writes whole. Every other table in the namespace, and
// every table of the other backend, must stay empty (Verify).
var OwnedTables = []string{"filter", "nat"}

// Rules returns the tables to install for family f: filter, then nat. Every rule is written
// the way iptables-save prints it back, so Verify compares them as text.
//
// The order of the rules is the design; docs/mesh-capture.md explains each one.
func Rules(cfg Config, f Family) ([]Table, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return []Table{c.filterTable(), c.natTable(f)}, nil
}

// filterTable closes the proxy's ports. A connection is refused when it was opened toward one
// of them without having been redirected there by nat (conntrack state DNAT): inbound, for
// the two listeners, whatever the source; outbound, for every port of the proxy, from any
// process that is not the proxy. The metrics port stays open to peers outside the pod.
func (c Config) filterTable() Table {
	t := emptyTable("filter")
	t.Chains = append(t.Chains, Chain{chainInput, "-"}, Chain{chainOutput, "-"})
	reject := " -m conntrack ! --ctstate DNAT --ctdir ORIGINAL -j REJECT --reject-with tcp-reset"
	t.Rules = append(t.Rules,
		"-A INPUT -p tcp -j "+chainInput,
		"-A OUTPUT -p tcp -j "+chainOutput)
	for _, ports := range multiports(cleanPorts([]uint16{c.InboundPort, c.OutboundPort})) {
		t.Rules = append(t.Rules, "-A "+chainInput+" -p tcp "+ports+reject)
	}
	t.Rules = append(t.Rules, "-A "+chainOutput+" "+c.proxyMatch()+" -j RETURN")
	for _, ports := range multiports(c.privatePorts()) {
		t.Rules = append(t.Rules, "-A "+chainOutput+" -p tcp "+ports+reject)
	}
	return t
}

// natTable redirects. Inbound (PREROUTING): every TCP connection but those to the proxy's
// ports and the excluded ports goes to the inbound port. Outbound (OUTPUT), in this order:
//   - the proxy dialling one of the pod's own addresses (not loopback) is sent through the
//     inbound chain, so an application that calls itself through a mesh address is still
//     authorized by its own inbound side (Istio does the same);
//   - anything else the proxy sends goes out as it is;
//   - the application's connections inside the pod (out through lo: loopback and the pod's
//     own addresses) are not redirected; the filter table keeps the proxy's ports closed;
//   - excluded destinations and ports go out as they are;
//   - the rest goes to the outbound port.
func (c Config) natTable(f Family) Table {
	t := emptyTable("nat")
	t.Chains = append(t.Chains, Chain{chainInbound, "-"}, Chain{chainOutput, "-"})
	proxy := c.proxyMatch()
	t.Rules = append(t.Rules,
		"-A PREROUTING -p tcp -j "+chainInbound,
		"-A OUTPUT -p tcp -j "+chainOutput)
	for _, ports := range append(multiports(c.privatePorts()), multiports(c.ExcludeInboundPorts)...) {
		t.Rules = append(t.Rules, "-A "+chainInbound+" -p tcp "+ports+" -j RETURN")
	}
	t.Rules = append(t.Rules,
		"-A "+chainInbound+" -p tcp -j REDIRECT --to-ports "+strconv.Itoa(int(c.InboundPort)),
		"-A "+chainOutput+" ! -d "+f.loopback()+" -o lo "+proxy+" -j "+chainInbound,
		"-A "+chainOutput+" "+proxy+" -j RETURN",
		"-A "+chainOutput+" -o lo -j RETURN")
	for _, p := range c.ExcludeOutboundCIDRs {
		if (f == IPv4) == p.Addr().Is4() {
			t.Rules = append(t.Rules, "-A "+chainOutput+" -d "+p.String()+" -j RETURN")
		}
	}
	for _, ports := range multiports(c.ExcludeOutboundPorts) {
		t.Rules = append(t.Rules, "-A "+chainOutput+" -p tcp "+ports+" -j RETURN")
	}
	t.Rules = append(t.Rules, "-A "+chainOutput+" -p tcp -j REDIRECT --to-ports "+strconv.Itoa(int(c.OutboundPort)))
	return t
}

// proxyMatch matches the proxy's packets: every part of its identity that is configured,
// all at once.
func (c Config) proxyMatch() string {
	var parts []string
	if c.ProxyUID >= 0 || c.ProxyGID >= 0 {
		owner := "-m owner"
		if c.ProxyUID >= 0 {
			owner += fmt.Sprintf(" --uid-owner %d", c.ProxyUID)
		}
		if c.ProxyGID >= 0 {
			owner += fmt.Sprintf(" --gid-owner %d", c.ProxyGID)
		}
		parts = append(parts, owner)
	}
	if c.ProxyMark >= 0 {
		parts = append(parts, fmt.Sprintf("-m mark --mark %#x", c.ProxyMark))
	}
	return strings.Join(parts, " ")
}

// maxMultiport is how many ports one multiport match takes.
const maxMultiport = 15

// multiports returns "-m multiport --dports a,b,..." matches for ports, at most 15 each.
func multiports(ports []uint16) []string {
	var out []string
	for len(ports) > 0 {
		n := min(len(ports), maxMultiport)
		s := make([]string, n)
		for i, p := range ports[:n] {
			s[i] = strconv.Itoa(int(p))
		}
		out = append(out, "-m multiport --dports "+strings.Join(s, ","))
		ports = ports[n:]
	}
	return out
}
