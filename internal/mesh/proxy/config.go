package proxy

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ALPN is the application protocol mesh proxies negotiate with each other. The inbound side
// terminates TLS only for a ClientHello that offers it; any other TLS (an application's own
// HTTPS, say) is not the mesh's and is treated like plain text.
const ALPN = "outrider/1"

// Conventional ports and addresses (the same numbers the large meshes use, so capture rules
// and firewall exceptions look familiar).
const (
	DefaultInboundAddr  = "0.0.0.0:15006"
	DefaultOutboundAddr = "127.0.0.1:15001"
	DefaultMetricsAddr  = ":15090"
	DefaultAdminSocket  = "/var/run/outrider-proxy/admin.sock"
)

// ProxyMark is the packet mark the proxy sets (SO_MARK) on every socket it dials, unless
// Config.Mark says otherwise. Capture rules that match it return early for packets with this
// mark, so the proxy's own connections are not redirected back to it. Setting a mark needs
// CAP_NET_ADMIN, or CAP_NET_RAW on Linux 5.17 and later, both of which admission refuses to
// application containers. In pods the proxy runs as a non-root user without either in effect,
// sets no mark, and the capture rules exempt it by UID and GID alone (docs/mesh-capture.md).
const ProxyMark = 0x539

// ProxyUID and ProxyGID are the user and group the proxy runs as in a pod; the capture rules
// may match them as well as the mark. Admission refuses them to application containers: they
// equal policy.ProxyUID and policy.ProxyGID, which a test checks. They are spelt out rather
// than imported so the data plane does not link the policy engine (Kubernetes types, CEL,
// registries): a binary built from this package alone stays small.
const (
	ProxyUID int64 = 1337
	ProxyGID int64 = 1337
)

// Egress decides what happens to outbound connections to destinations outside the mesh.
type Egress string

// Egress settings.
const (
	// EgressAllow passes them through in plain text, as the application sent them.
	EgressAllow Egress = "allow"
	// EgressDeny refuses them.
	EgressDeny Egress = "deny"
)

// ParseEgress parses "allow" or "deny".
func ParseEgress(s string) (Egress, error) {
	switch e := Egress(s); e {
	case EgressAllow, EgressDeny:
		return e, nil
	}
	return "", fmt.Errorf("egress must be allow or deny, not %q", s)
}

// Config configures a Proxy. The zero value is usable; every field documents its default.
type Config struct {
	// InboundAddr is where redirected inbound connections arrive. Default "0.0.0.0:15006".
	InboundAddr string
	// OutboundAddr is where the application's redirected connections arrive. It should be a
	// loopback address. Default "127.0.0.1:15001". When it is IPv4 loopback, the proxy also
	// listens on [::1] at the same port, where capture redirects IPv6 connections.
	OutboundAddr string
	// Egress decides outbound connections to non-mesh destinations. Default EgressAllow.
	Egress Egress
	// Mark is set with SO_MARK on every socket the proxy dials, which needs CAP_NET_ADMIN (or
	// CAP_NET_RAW on Linux 5.17+). Default ProxyMark; a negative value sets none, and the
	// capture rules must then exempt the proxy by UID and GID.
	Mark int
	// NetNS is the path of a network namespace to listen and dial in ("/run/netns/x"). Empty
	// means the process's own, which is what a sidecar wants.
	NetNS string
	// IdleTimeout closes a connection on which no byte moved either way for this long.
	// Default 1h.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds a TLS handshake, inbound or outbound. Default 10s.
	HandshakeTimeout time.Duration
	// SniffTimeout bounds the wait for the first bytes of an inbound connection. A client
	// that sends nothing for this long is treated as plain text (server-first protocols do
	// that). Default 5s.
	SniffTimeout time.Duration
	// DialTimeout bounds connecting to the application or to a remote peer. Default 10s.
	DialTimeout time.Duration
	// ShutdownGrace is how long Serve waits for open connections after its context ends
	// before closing them. Default 10s.
	ShutdownGrace time.Duration
	// LogAllowedEvery logs one allowed connection in this many; every denied one is logged.
	// Default 0: none.
	LogAllowedEvery int
	// SessionCacheSize is the number of TLS sessions kept for resumption toward other
	// proxies. Default 1024.
	SessionCacheSize int
	// Log receives the proxy's structured logs. Default: discard.
	Log *slog.Logger
	// Registry receives the proxy's metrics. Default: a new registry (see Proxy.Registry).
	Registry *prometheus.Registry
	// Now is the clock used for certificate verification. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() (Config, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.InboundAddr == "" {
		c.InboundAddr = DefaultInboundAddr
	}
	if c.OutboundAddr == "" {
		c.OutboundAddr = DefaultOutboundAddr
	}
	if c.Egress == "" {
		c.Egress = EgressAllow
	}
	if _, err := ParseEgress(string(c.Egress)); err != nil {
		return c, err
	}
	if c.Mark == 0 {
		c.Mark = ProxyMark
	}
	def(&c.IdleTimeout, time.Hour)
	def(&c.HandshakeTimeout, 10*time.Second)
	def(&c.SniffTimeout, 5*time.Second)
	def(&c.DialTimeout, 10*time.Second)
	def(&c.ShutdownGrace, 10*time.Second)
	if c.SessionCacheSize == 0 {
		c.SessionCacheSize = 1024
	}
	if c.LogAllowedEvery < 0 {
		return c, fmt.Errorf("LogAllowedEvery must not be negative")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
