package proxy

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// dial connects to addr from the proxy's network namespace with the proxy's mark on the
// socket, set before connect so that even the SYN carries it and skips the capture rules.
func (p *Proxy) dial(ctx context.Context, addr string) (*net.TCPConn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	var c net.Conn
	err := p.ns.Do(func() (err error) {
		c, err = p.dialer.DialContext(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// markControl sets SO_MARK on a socket before it connects. It needs CAP_NET_ADMIN; without it
// the dial fails rather than sending unmarked packets that the capture rules would loop back.
func markControl(mark int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, mark)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("setting SO_MARK %#x (needs CAP_NET_ADMIN): %w", mark, serr)
		}
		return nil
	}
}
