package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// Reasons for refusals that happen before or outside authorization.
const (
	reasonNotRedirected  = "not-redirected"
	reasonProxyPort      = "proxy-port"
	reasonHandshake      = "handshake-failed"
	reasonUpstream       = "upstream-unreachable"
	reasonEgressDenied   = "egress-denied"
	reasonServerMismatch = "server-identity-mismatch"
	reasonPolicyRevoked  = "policy-revoked"
	reasonHTTPMalformed  = "http-malformed"
	reasonHTTPUpgrade    = "http-upgrade-refused"
)

// handleInbound serves one redirected inbound connection: sniff, terminate mutual TLS for mesh
// peers, authorize, and forward to the application on 127.0.0.1:<original port>.
func (p *Proxy) handleInbound(ctx context.Context, c *net.TCPConn) {
	p.metrics.connections.WithLabelValues(inbound).Inc()
	lg := connLog{direction: inbound, remote: c.RemoteAddr().String()}
	dst, err := originalDst(c)
	if err != nil {
		p.denied(lg, "", reasonNotRedirected, err.Error())
		c.Close()
		return
	}
	lg.port = dst.Port()
	// A connection to the proxy's own ports was not meant for the application, and
	// forwarding it would loop.
	if lg.port == p.inboundPort || lg.port == p.outboundPort {
		p.denied(lg, "", reasonProxyPort, "")
		c.Close()
		return
	}
	stream, peer, err := p.acceptStream(ctx, c, &lg)
	if err != nil {
		c.Close()
		return
	}
	pol := p.policy.Load()
	d := pol.Authorize(peer, lg.port, nil)
	if !d.Allowed && !d.NeedsHTTP {
		p.metrics.decision("connection", d)
		p.denied(lg, d.Rule, string(d.Reason), "")
		stream.Close()
		return
	}
	up, err := p.dial(ctx, net.JoinHostPort("127.0.0.1", strconv.Itoa(int(lg.port))))
	if err != nil {
		p.denied(lg, d.Rule, reasonUpstream, err.Error())
		stream.Close()
		return
	}
	t := &tracked{inbound: true, peer: peer, port: lg.port, perRequest: !d.Allowed, remote: lg.remote,
		close: func() { stream.Close(); up.Close() }}
	remove := p.conns.add(t)
	defer remove()
	// SetPolicy re-checks the connections in the set; one that was authorized against the
	// previous policy and joined just after that re-check is checked here.
	if cur := p.policy.Load(); cur != pol {
		if d = cur.Authorize(peer, lg.port, nil); !d.Allowed && !d.NeedsHTTP {
			p.metrics.decision("connection", d)
			p.denied(lg, d.Rule, string(d.Reason), "")
			t.close()
			return
		}
		p.conns.setPerRequest(t, !d.Allowed)
	}
	p.metrics.decision("connection", d)
	open := p.metrics.open.WithLabelValues(inbound)
	open.Inc()
	defer open.Dec()
	if d.Allowed {
		p.allowed(lg, d)
		p.forward(stream, up, p.metrics.byteCounters(inbound))
		return
	}
	p.forwardHTTP(stream, up, lg, peer)
}

// acceptStream sniffs the connection and, for a mesh peer, completes the mutual TLS handshake.
// It returns the stream to forward (decrypted for mesh peers, replaying the sniffed bytes) and
// the verified peer, which is the zero Peer (plain text) for anything that is not the mesh's.
func (p *Proxy) acceptStream(ctx context.Context, c *net.TCPConn, lg *connLog) (net.Conn, authz.Peer, error) {
	c.SetReadDeadline(time.Now().Add(p.cfg.SniffTimeout))
	bp := buffers.Get().(*[]byte)
	kind, n, err := sniff(c, *bp)
	prefix := append([]byte(nil), (*bp)[:n]...)
	buffers.Put(bp)
	c.SetReadDeadline(time.Time{})
	switch {
	case err == nil:
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Nothing, or not enough, within SniffTimeout: a server-first protocol, or a slow
		// client. Either way it is not a mesh hello; carry on as plain text.
	case errors.Is(err, io.EOF) && n > 0:
		// The client sent its bytes and half-closed; they still go to the application.
	default:
		return nil, authz.Peer{}, err // the client went away
	}
	raw := &prefixConn{conn: c, prefix: prefix}
	if kind != streamMesh {
		lg.peer = "plaintext"
		return raw, authz.Peer{}, nil
	}
	tc := tls.Server(raw, p.serverConfig)
	hctx, cancel := context.WithTimeout(ctx, p.cfg.HandshakeTimeout)
	defer cancel()
	start := time.Now()
	err = tc.HandshakeContext(hctx)
	cs := tc.ConnectionState()
	p.metrics.handshake(inbound, start, cs.DidResume, err)
	if err != nil {
		p.denied(*lg, "", reasonHandshake, err.Error())
		return nil, authz.Peer{}, err
	}
	// verifyPeer accepted the chain during the handshake; this only reads the ID back.
	leaf := cs.PeerCertificates[0]
	id, err := x509svid.IDFromCert(leaf)
	if err != nil {
		p.denied(*lg, "", reasonHandshake, err.Error())
		tc.Close()
		return nil, authz.Peer{}, err
	}
	peer, err := authz.PeerFromCertificate(id, leaf)
	if err != nil {
		p.log.Warn("ignoring malformed provenance", "peer", id.String(), "err", err.Error())
	}
	lg.peer = peer.String()
	return tc, peer, nil
}
