package proxy

import "github.com/outrider-sec/outrider/internal/mesh/authz"

// connLog carries what every log line about one connection says.
type connLog struct {
	direction string
	remote    string // the client's address (inbound) or the destination (outbound)
	port      uint16
	peer      string // the peer's SPIFFE ID, "plaintext", or "" before it is known
}

func (c connLog) attrs(p *Proxy) []any {
	return []any{"direction", c.direction, "peer", c.peer, "local", p.localID(), "port", c.port, "remote", c.remote}
}

// denied logs one refused connection (always) with both identities and the reason.
func (p *Proxy) denied(c connLog, rule string, reason string, detail string) {
	attrs := append(c.attrs(p), "rule", rule, "reason", reason)
	if detail != "" {
		attrs = append(attrs, "detail", detail)
	}
	p.log.Warn("connection denied", attrs...)
}

// allowed logs one in LogAllowedEvery allowed connections.
func (p *Proxy) allowed(c connLog, d authz.Decision) {
	n := p.cfg.LogAllowedEvery
	if n == 0 || (p.allowedSeq.Add(1)-1)%uint64(n) != 0 {
		return
	}
	p.log.Info("connection allowed", append(c.attrs(p), "rule", d.Rule, "reason", string(d.Reason), "sampledOneIn", n)...)
}

// requestDenied logs one refused HTTP request.
func (p *Proxy) requestDenied(c connLog, req *authz.HTTPRequest, d authz.Decision) {
	p.log.Warn("request denied", append(c.attrs(p), "method", truncate(req.Method, 32), "path", truncate(req.Path, 256), "reason", string(d.Reason))...)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
