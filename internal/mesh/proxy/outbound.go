package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// handleOutbound serves one connection the application opened: to a meshed endpoint it
// originates mutual TLS and checks the server's identity; anywhere else it applies Egress.
func (p *Proxy) handleOutbound(ctx context.Context, c *net.TCPConn) {
	p.metrics.connections.WithLabelValues(outbound).Inc()
	lg := connLog{direction: outbound, remote: c.RemoteAddr().String()}
	dst, err := originalDst(c)
	if err == nil && (dst.Addr().IsLoopback() || dst.Addr().IsUnspecified()) {
		// Loopback traffic is not captured, so this connection came to the proxy's port
		// directly; following it would loop.
		err = errNotRedirected
	}
	if err != nil {
		p.metrics.outboundKinds.WithLabelValues("refused").Inc()
		p.denied(lg, "", reasonNotRedirected, err.Error())
		c.Close()
		return
	}
	lg.remote, lg.port = dst.String(), dst.Port()
	want, meshed := p.endpoint(dst.Addr())
	var up net.Conn
	switch {
	case meshed:
		lg.peer = want.String()
		up, err = p.dialMesh(ctx, dst, want, lg)
	case p.cfg.Egress == EgressDeny:
		p.metrics.outboundKinds.WithLabelValues("refused").Inc()
		p.denied(lg, "", reasonEgressDenied, "")
		c.Close()
		return
	default:
		lg.peer = "plaintext"
		up, err = p.dial(ctx, dst.String())
		if err != nil {
			p.denied(lg, "", reasonUpstream, err.Error())
		}
	}
	if err != nil {
		p.metrics.outboundKinds.WithLabelValues("failed").Inc()
		c.Close()
		return
	}
	if meshed {
		p.metrics.outboundKinds.WithLabelValues("mesh").Inc()
	} else {
		p.metrics.outboundKinds.WithLabelValues("passthrough").Inc()
	}
	remove := p.conns.add(&tracked{remote: lg.remote, close: func() { c.Close(); up.Close() }})
	defer remove()
	open := p.metrics.open.WithLabelValues(outbound)
	open.Inc()
	defer open.Dec()
	p.forward(c, up, p.metrics.byteCounters(outbound))
}

// dialMesh connects to a meshed endpoint and completes mutual TLS, requiring the server to be
// want. A resumed session that fails verification (its root left the bundle, say) is dropped
// from the cache and the dial is retried once with a full handshake.
func (p *Proxy) dialMesh(ctx context.Context, dst netip.AddrPort, want spiffeid.ID, lg connLog) (net.Conn, error) {
	for attempt := 0; ; attempt++ {
		tcp, err := p.dial(ctx, dst.String())
		if err != nil {
			p.denied(lg, "", reasonUpstream, err.Error())
			return nil, err
		}
		tc := tls.Client(tcp, p.clientTLS(want))
		hctx, cancel := context.WithTimeout(ctx, p.cfg.HandshakeTimeout)
		start := time.Now()
		err = tc.HandshakeContext(hctx)
		cancel()
		resumed := tc.ConnectionState().DidResume
		p.metrics.handshake(outbound, start, resumed, err)
		if err == nil {
			return tc, nil
		}
		tcp.Close()
		if resumed && attempt == 0 {
			p.sessions.Put(dst.String(), nil)
			continue
		}
		reason := reasonHandshake
		if errors.Is(err, errUnexpectedServer) {
			reason = reasonServerMismatch
		}
		p.denied(lg, "", reason, err.Error())
		return nil, err
	}
}
