package proxy

import (
	"net"
	"time"
)

// prefixConn replays the bytes sniff consumed before reading on from the connection. It wraps
// rather than embeds *net.TCPConn so that no promoted method (WriteTo, ReadFrom) can bypass
// the replay.
type prefixConn struct {
	conn   *net.TCPConn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.conn.Read(b)
}

func (c *prefixConn) Write(b []byte) (int, error)        { return c.conn.Write(b) }
func (c *prefixConn) Close() error                       { return c.conn.Close() }
func (c *prefixConn) CloseWrite() error                  { return c.conn.CloseWrite() }
func (c *prefixConn) LocalAddr() net.Addr                { return c.conn.LocalAddr() }
func (c *prefixConn) RemoteAddr() net.Addr               { return c.conn.RemoteAddr() }
func (c *prefixConn) SetDeadline(t time.Time) error      { return c.conn.SetDeadline(t) }
func (c *prefixConn) SetReadDeadline(t time.Time) error  { return c.conn.SetReadDeadline(t) }
func (c *prefixConn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }
