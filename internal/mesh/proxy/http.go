package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// replyGrace bounds how long a refused request waits for the application to finish the
// responses it owes before the proxy writes its own refusal.
const replyGrace = 5 * time.Second

// readers are pooled request readers for connections authorized request by request.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufferSize) }}

// http2Preface starts every HTTP/2 connection with prior knowledge (RFC 9113 §3.4), which is
// how HTTP/2 travels inside the mesh's TLS: the application speaks cleartext HTTP/2 to its
// proxy.
const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// forwardHTTP forwards a connection whose requests are authorized one by one: the client's
// bytes are parsed as HTTP/1.1 or HTTP/2 and each request is checked against the current
// policy before it reaches the application; responses are copied untouched.
func (p *Proxy) forwardHTTP(down, up net.Conn, lg connLog, peer authz.Peer) {
	f := newFlow(p.cfg.IdleTimeout)
	counters := p.metrics.byteCounters(inbound)
	responses := make(chan error, 1)
	go func() { responses <- f.pipe(down, up, counters.fromUpstream) }()

	br := readers.Get().(*bufio.Reader)
	br.Reset(&idleReader{conn: down, flow: f})
	defer func() { br.Reset(nil); readers.Put(br) }()
	w := &idleWriter{conn: up, flow: f}
	count := func(n int) { counters.fromDownstream.Add(float64(n)) }
	ins := inspection{p: p, lg: lg, peer: peer}

	var err error
	if isHTTP2(br) {
		err = ins.http2(br, w, count)
	} else {
		err = ins.http1(br, w, count)
	}
	var refused *refusal
	switch {
	case err == nil: // the client finished cleanly
		closeWrite(up)
		if <-responses == nil {
			closeWrite(down)
		}
	case errors.As(err, &refused) && refused.reply != "":
		// Let the application finish the responses it owes (pipelined requests before the
		// refused one), then answer the refused request and close.
		closeWrite(up)
		select {
		case <-responses:
		case <-time.After(replyGrace):
			up.Close()
			<-responses
		}
		down.SetWriteDeadline(time.Now().Add(replyGrace))
		down.Write([]byte(refused.reply))
	default:
		down.Close()
		up.Close()
		<-responses
	}
	down.Close()
	up.Close()
}

// isHTTP2 reports whether the stream starts with the HTTP/2 preface. It peeks one byte more
// at a time, so a short HTTP/1 request that does not match is recognised without waiting for
// bytes that will not come.
func isHTTP2(br *bufio.Reader) bool {
	for n := 1; n <= len(http2Preface); n++ {
		b, err := br.Peek(n)
		if err != nil || string(b) != http2Preface[:n] {
			return false
		}
	}
	return true
}

// refusal ends an inspected connection because of a request; reply, if set, is written to
// the client.
type refusal struct {
	reason string
	reply  string
}

func (r *refusal) Error() string { return r.reason }

// Replies for refused HTTP/1 requests.
const (
	replyForbidden = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 24\r\nConnection: close\r\n\r\naccess denied by policy\n"
	replyBad       = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nbad request\n"
)

// inspection is the per-request authorization of one connection.
type inspection struct {
	p    *Proxy
	lg   connLog
	peer authz.Peer
}

// authorize checks one request against the current policy, so a policy pushed while the
// connection is open applies from its next request.
func (in *inspection) authorize(method, path string) authz.Decision {
	req := &authz.HTTPRequest{Method: method, Path: path}
	d := in.p.policy.Load().Authorize(in.peer, in.lg.port, req)
	in.p.metrics.decision("request", d)
	if !d.Allowed {
		in.p.requestDenied(in.lg, req, d)
	}
	return d
}

// http1 forwards HTTP/1.1 requests, each authorized before it reaches the application.
func (in *inspection) http1(br *bufio.Reader, up *idleWriter, count func(int)) error {
	return forwardHTTP1(br, up, count, func(method, target string) error {
		if d := in.authorize(method, target); !d.Allowed {
			return &refusal{reason: string(d.Reason), reply: replyForbidden}
		}
		return nil
	}, func(reason, detail string) { in.p.denied(in.lg, "", reason, detail) })
}

// forwardHTTP1 forwards requests one at a time until the client ends the stream (nil), check
// or the framing refuses a request (*refusal) or the connection fails. Every forwarded byte
// is one the client sent, unchanged and in order; refused requests reach the application
// not at all.
func forwardHTTP1(br *bufio.Reader, up io.Writer, count func(int), check func(method, target string) error, refuse func(reason, detail string)) error {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	head := make([]byte, 0, 4096) // grows to the largest head seen, at most maxRequestHead
	for {
		h, err := readRequestHead(br, head)
		head = h.raw[:0]
		switch {
		case errors.Is(err, errMalformedRequest), errors.Is(err, errHeadTooLarge):
			refuse(reasonHTTPMalformed, err.Error())
			return &refusal{reason: reasonHTTPMalformed, reply: replyBad}
		case errors.Is(err, errUpgrade):
			refuse(reasonHTTPUpgrade, err.Error())
			return &refusal{reason: reasonHTTPUpgrade, reply: replyForbidden}
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
		if err := check(h.method, h.target); err != nil {
			return err
		}
		if err := write(up, h.raw, count); err != nil {
			return err
		}
		if err := copyBody(up, br, &h, *bp, count); err != nil {
			if errors.Is(err, errMalformedRequest) || errors.Is(err, errHeadTooLarge) {
				// Part of the request already went through; it cannot be answered cleanly.
				refuse(reasonHTTPMalformed, err.Error())
				return &refusal{reason: reasonHTTPMalformed}
			}
			return err
		}
	}
}
