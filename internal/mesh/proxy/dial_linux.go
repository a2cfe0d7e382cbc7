package proxy

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Dial connects to addr ("ip:port") the way the proxy connects to anything: from its network
// namespace, with its mark (unless Config.Mark is negative), within DialTimeout. It is for
// the proxy's own connections that the capture rules must not redirect, such as the identity
// service's client.
func (p *Proxy) Dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := p.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

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

// markControl sets SO_MARK on a socket before it connects. That needs CAP_NET_ADMIN, or on
// Linux 5.17 and later CAP_NET_RAW, in effect in the network namespace; without it the dial
// fails rather than sending unmarked packets that the capture rules would loop back. A proxy
// that cannot have either (a non-root container without file capabilities) runs with a
// negative Config.Mark and is exempt from capture by its UID and GID alone.
func markControl(mark int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, mark)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("setting SO_MARK %#x (needs CAP_NET_ADMIN, or CAP_NET_RAW on Linux 5.17+; a negative mark sets none): %w", mark, serr)
		}
		return nil
	}
}
