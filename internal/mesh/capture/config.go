package capture

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// Default ports, taken from the proxy's own defaults so the two cannot drift apart.
var (
	// DefaultInboundPort is where inbound TCP is redirected: the proxy's inbound listener.
	DefaultInboundPort = portOf(proxy.DefaultInboundAddr)
	// DefaultOutboundPort is where the application's outbound TCP is redirected.
	DefaultOutboundPort = portOf(proxy.DefaultOutboundAddr)
	// DefaultProxyPorts are the proxy's other TCP ports: its metrics endpoint.
	DefaultProxyPorts = []uint16{portOf(proxy.DefaultMetricsAddr)}
)

// The proxy's identity, as the proxy itself and admission know it.
const (
	DefaultProxyUID  = proxy.ProxyUID
	DefaultProxyGID  = proxy.ProxyGID
	DefaultProxyMark = proxy.ProxyMark
)

// portOf returns the port of a "host:port" address, or 0 if it has none.
func portOf(addr string) uint16 {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return 0
	}
	return uint16(n)
}

// Config describes one pod's capture. The zero value captures with the proxy's defaults.
type Config struct {
	// InboundPort is the proxy's inbound listener; inbound TCP is redirected to it.
	// Default DefaultInboundPort (15006).
	InboundPort uint16
	// OutboundPort is the proxy's outbound listener (on loopback); the application's
	// outbound TCP is redirected to it. Default DefaultOutboundPort (15001).
	OutboundPort uint16
	// ProxyPorts are the proxy's other TCP ports. Like the two listeners they are never
	// redirected and are closed to every process in the pod but the proxy; peers outside the
	// pod still reach them (Prometheus scrapes the metrics). Nil means DefaultProxyPorts
	// (15090). The admin API is a Unix socket in the proxy's own volume, not a port.
	ProxyPorts []uint16

	// ProxyUID and ProxyGID are the proxy's user and group, matched with -m owner on the
	// proxy's packets. Default 1337 (DefaultProxyUID, DefaultProxyGID); -1 leaves it out of
	// the match. 0 is refused: every root process would pass for the proxy.
	ProxyUID, ProxyGID int64
	// ProxyMark is the mark the proxy sets with SO_MARK on the sockets it dials. Default
	// DefaultProxyMark (0x539); -1 leaves it out of the match.
	//
	// The proxy is exempt only when every part given matches at once: by default its packets
	// must come from UID 1337 and GID 1337 and carry mark 0x539. At least the UID or the
	// mark must be given.
	ProxyMark int64

	// ExcludeInboundPorts are application ports whose inbound TCP is not redirected: peers
	// reach them directly, without mutual TLS or authorization. Default none.
	ExcludeInboundPorts []uint16
	// ExcludeOutboundPorts are destination ports the application reaches directly, around
	// the proxy. Default none.
	ExcludeOutboundPorts []uint16
	// ExcludeOutboundCIDRs are destinations the application reaches directly, around the
	// proxy. IPv4 and IPv6 prefixes may be mixed; each goes to its family's rules. Default
	// none.
	ExcludeOutboundCIDRs []netip.Prefix
}

// withDefaults fills in the defaults and checks the result. Port lists come back sorted and
// without duplicates, prefixes masked, so equal configurations give equal rules.
func (c Config) withDefaults() (Config, error) {
	if c.InboundPort == 0 {
		c.InboundPort = DefaultInboundPort
	}
	if c.OutboundPort == 0 {
		c.OutboundPort = DefaultOutboundPort
	}
	if c.ProxyPorts == nil {
		c.ProxyPorts = DefaultProxyPorts
	}
	if c.ProxyUID == 0 {
		c.ProxyUID = DefaultProxyUID
	}
	if c.ProxyGID == 0 {
		c.ProxyGID = DefaultProxyGID
	}
	if c.ProxyMark == 0 {
		c.ProxyMark = DefaultProxyMark
	}
	var errs []error
	if c.InboundPort == c.OutboundPort {
		errs = append(errs, fmt.Errorf("the inbound and outbound ports must differ (both %d)", c.InboundPort))
	}
	for name, id := range map[string]int64{"UID": c.ProxyUID, "GID": c.ProxyGID} {
		if id < -1 || id > 1<<32-2 {
			errs = append(errs, fmt.Errorf("proxy %s %d is out of range (-1 leaves it out)", name, id))
		}
	}
	if c.ProxyMark < -1 || c.ProxyMark > 1<<32-1 {
		errs = append(errs, fmt.Errorf("proxy mark %d is out of range (-1 leaves it out)", c.ProxyMark))
	}
	if c.ProxyUID < 0 && c.ProxyMark < 0 {
		errs = append(errs, errors.New("the proxy must be matched by its UID, its mark or both; a group alone is too weak"))
	}
	c.ProxyPorts = cleanPorts(c.ProxyPorts)
	c.ExcludeInboundPorts = cleanPorts(c.ExcludeInboundPorts)
	c.ExcludeOutboundPorts = cleanPorts(c.ExcludeOutboundPorts)
	for _, list := range [][]uint16{c.ProxyPorts, c.ExcludeInboundPorts, c.ExcludeOutboundPorts} {
		if slices.Contains(list, 0) {
			errs = append(errs, errors.New("port 0 cannot be listed"))
			break
		}
	}
	var cidrs []netip.Prefix
	for _, p := range c.ExcludeOutboundCIDRs {
		if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			errs = append(errs, fmt.Errorf("excluded CIDR %v: want an IPv4 or IPv6 prefix like 10.0.0.0/8 or fd00::/8", p))
			continue
		}
		p = p.Masked()
		if !slices.Contains(cidrs, p) {
			cidrs = append(cidrs, p)
		}
	}
	c.ExcludeOutboundCIDRs = cidrs
	return c, errors.Join(errs...)
}

func cleanPorts(ports []uint16) []uint16 {
	out := slices.Clone(ports)
	slices.Sort(out)
	return slices.Compact(out)
}

// privatePorts are every port of the proxy's, sorted.
func (c Config) privatePorts() []uint16 {
	return cleanPorts(append([]uint16{c.InboundPort, c.OutboundPort}, c.ProxyPorts...))
}
