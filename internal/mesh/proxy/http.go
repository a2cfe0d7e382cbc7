package proxy

import (
	"net"

	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// forwardHTTP forwards a connection whose requests are authorized one by one.
func (p *Proxy) forwardHTTP(down, up net.Conn, lg connLog, peer authz.Peer) {
	p.denied(lg, "", reasonHTTPUnsupported, "per-request authorization not implemented yet")
	down.Close()
	up.Close()
}
