package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// bufferSize is the copy buffer per direction: two TLS records of 16 KiB, so a buffer full of
// plain text becomes two full records.
const bufferSize = 32 << 10

// buffers are reused across connections: a connection holds two while it forwards, and no
// byte forwarded allocates.
var buffers = sync.Pool{New: func() any {
	b := make([]byte, bufferSize)
	return &b
}}

// byteCounters count the bytes each side of a connection sent.
type byteCounters struct {
	fromDownstream, fromUpstream prometheus.Counter
}

// flow tracks activity on one proxied connection for the idle timeout. Each direction sets
// its own deadlines; a direction that timed out carries on if the other moved bytes recently.
type flow struct {
	idle time.Duration
	last atomic.Int64 // unix nanoseconds of the last byte moved either way
}

func newFlow(idle time.Duration) *flow {
	f := &flow{idle: idle}
	f.last.Store(time.Now().UnixNano())
	return f
}

func (f *flow) touch(now time.Time) { f.last.Store(now.UnixNano()) }

func (f *flow) idleSince(now time.Time) time.Duration {
	return time.Duration(now.UnixNano() - f.last.Load())
}

// forward copies bytes both ways between down (the client side) and up (the server side) on
// two goroutines (the caller's and one more) until both directions end, then closes both.
// A direction that ends cleanly half-closes its destination, so request/response protocols
// that shut their write side still get their answer; a failure closes both.
func (p *Proxy) forward(down, up net.Conn, c byteCounters) {
	f := newFlow(p.cfg.IdleTimeout)
	done := make(chan struct{})
	go func() {
		defer close(done)
		finish(up, down, f.pipe(up, down, c.fromDownstream))
	}()
	finish(down, up, f.pipe(down, up, c.fromUpstream))
	<-done
	down.Close()
	up.Close()
}

// finish ends one direction: a half-close after a clean end, both closed after a failure.
func finish(dst, src net.Conn, err error) {
	if err == nil {
		closeWrite(dst)
		return
	}
	dst.Close()
	src.Close()
}

// pipe copies src to dst with a pooled buffer until src ends (nil) or either side fails.
func (f *flow) pipe(dst, src net.Conn, counter prometheus.Counter) error {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	r := &idleReader{conn: src, flow: f}
	w := &idleWriter{conn: dst, flow: f}
	for {
		n, err := r.Read(*bp)
		if n > 0 {
			if _, werr := w.Write((*bp)[:n]); werr != nil {
				return werr
			}
			counter.Add(float64(n))
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// idleReader reads from conn under the flow's idle timeout: a read deadline ends the read only
// if no byte moved in either direction for the whole timeout. Deadlines are moved forward
// every idle/8 rather than on every read; the precision needed is coarse.
type idleReader struct {
	conn      net.Conn
	flow      *flow
	refreshAt time.Time
}

func (r *idleReader) Read(b []byte) (int, error) {
	for {
		now := time.Now()
		if !now.Before(r.refreshAt) {
			r.conn.SetReadDeadline(now.Add(r.flow.idle))
			r.refreshAt = now.Add(r.flow.idle / 8)
		}
		n, err := r.conn.Read(b)
		now = time.Now()
		if n > 0 {
			r.flow.touch(now)
		}
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) && r.flow.idleSince(now) < r.flow.idle {
			r.refreshAt = time.Time{} // the other direction is active: keep waiting
			continue
		}
		return n, err
	}
}

// idleWriter writes to conn with a deadline of the flow's idle timeout: a peer that stops
// reading for that long ends the connection.
type idleWriter struct {
	conn      net.Conn
	flow      *flow
	refreshAt time.Time
}

func (w *idleWriter) Write(b []byte) (int, error) {
	now := time.Now()
	if !now.Before(w.refreshAt) {
		w.conn.SetWriteDeadline(now.Add(w.flow.idle))
		w.refreshAt = now.Add(w.flow.idle / 8)
	}
	return w.conn.Write(b)
}

// closeWrite shuts the write side of c (a FIN, or a TLS close_notify), or closes c if it
// cannot be half-closed.
func closeWrite(c net.Conn) {
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		if hc.CloseWrite() == nil {
			return
		}
	}
	c.Close()
}
