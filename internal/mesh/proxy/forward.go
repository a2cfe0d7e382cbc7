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

// forward copies bytes both ways between down (the client side) and up (the server side) on
// two goroutines (the caller's and one more) until both directions end, then closes both.
// A direction that ends cleanly half-closes its destination, so request/response protocols
// that shut their write side still get their answer.
func (p *Proxy) forward(down, up net.Conn, c byteCounters) {
	f := &flow{idle: p.cfg.IdleTimeout}
	f.last.Store(time.Now().UnixNano())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.pipe(up, down, c.fromDownstream)
	}()
	f.pipe(down, up, c.fromUpstream)
	<-done
	down.Close()
	up.Close()
}

// pipe copies src to dst with a pooled buffer until src ends or either side fails. On failure
// it closes both connections, which also ends the opposite direction.
func (f *flow) pipe(dst, src net.Conn, counter prometheus.Counter) {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	var refreshAt time.Time
	now := time.Now()
	for {
		// Deadlines are moved forward every idle/8 rather than on every read: the timer
		// reset is cheap but not free, and the precision needed is coarse.
		if !now.Before(refreshAt) {
			src.SetReadDeadline(now.Add(f.idle))
			dst.SetWriteDeadline(now.Add(f.idle))
			refreshAt = now.Add(f.idle / 8)
		}
		n, err := src.Read(buf)
		now = time.Now()
		if n > 0 {
			f.last.Store(now.UnixNano())
			if _, werr := dst.Write(buf[:n]); werr != nil {
				abort(dst, src)
				return
			}
			counter.Add(float64(n))
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded) && now.UnixNano()-f.last.Load() < int64(f.idle):
			refreshAt = time.Time{} // the other direction is active: keep waiting
		case errors.Is(err, io.EOF):
			closeWrite(dst)
			return
		default:
			abort(dst, src)
			return
		}
	}
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

func abort(a, b net.Conn) {
	a.Close()
	b.Close()
}
