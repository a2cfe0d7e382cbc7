package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"golang.org/x/sys/unix"

	"github.com/outrider-sec/outrider/internal/mesh/authz"
	"github.com/outrider-sec/outrider/internal/netns"
)

// Proxy is one workload's sidecar. Create it with New, configure it with the setters, and run
// it with Run (or Listen then Serve). All methods are safe for concurrent use.
type Proxy struct {
	cfg     Config
	log     *slog.Logger
	ns      *netns.NS // nil: the process's own namespace
	dialer  *net.Dialer
	metrics *metrics

	local     atomic.Pointer[localIdentity]
	bundle    atomic.Pointer[x509bundle.Bundle]
	policy    atomic.Pointer[authz.Policy]
	policyMu  sync.Mutex // serialises SetPolicy
	endpoints atomic.Pointer[Endpoints]

	serverConfig *tls.Config
	sessions     tls.ClientSessionCache
	conns        *connSet
	allowedSeq   atomic.Uint64 // counts allowed connections for log sampling
	draining     atomic.Bool

	inboundPort, outboundPort uint16

	mu        sync.Mutex
	listeners []net.Listener
}

// New returns a proxy that is not listening yet and not ready: it needs a certificate, a trust
// bundle and a policy before it lets a connection through.
func New(cfg Config) (*Proxy, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		cfg:      cfg,
		log:      cfg.Log,
		sessions: tls.NewLRUClientSessionCache(cfg.SessionCacheSize),
		conns:    newConnSet(),
	}
	if p.inboundPort, err = portOf(cfg.InboundAddr); err != nil {
		return nil, fmt.Errorf("inbound address: %w", err)
	}
	if p.outboundPort, err = portOf(cfg.OutboundAddr); err != nil {
		return nil, fmt.Errorf("outbound address: %w", err)
	}
	if cfg.NetNS != "" {
		if p.ns, err = netns.Open(cfg.NetNS); err != nil {
			return nil, err
		}
	}
	p.dialer = &net.Dialer{}
	if cfg.Mark >= 0 {
		p.dialer.Control = markControl(cfg.Mark)
	}
	if p.metrics, err = newMetrics(cfg.Registry); err != nil {
		return nil, err
	}
	p.serverConfig = p.serverTLS()
	return p, nil
}

func portOf(addr string) (uint16, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %q: want 1-65535 (capture rules redirect to a fixed port)", port)
	}
	return uint16(n), nil
}

// Registry returns the registry holding the proxy's metrics.
func (p *Proxy) Registry() *prometheus.Registry { return p.cfg.Registry }

// Listen opens the inbound and outbound listeners in the proxy's network namespace. When the
// outbound address is IPv4 loopback, it also listens on [::1] at the same port, where capture
// redirects the application's IPv6 connections; a namespace without IPv6 loopback skips it.
func (p *Proxy) Listen() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.listeners) > 0 {
		return errors.New("already listening")
	}
	var lns []net.Listener
	err := p.ns.Do(func() error {
		for _, addr := range []string{p.cfg.InboundAddr, p.cfg.OutboundAddr} {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			lns = append(lns, ln)
		}
		if !isLoopback4(p.cfg.OutboundAddr) {
			return nil
		}
		addr6 := net.JoinHostPort("::1", strconv.Itoa(int(p.outboundPort)))
		ln, err := net.Listen("tcp6", addr6)
		switch {
		case errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.EAFNOSUPPORT):
			p.log.Info("no IPv6 loopback; listening for outbound IPv4 only", "addr", addr6)
		case err != nil:
			return err
		default:
			lns = append(lns, ln)
		}
		return nil
	})
	if err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		return fmt.Errorf("listening: %w", err)
	}
	p.listeners = lns
	return nil
}

// isLoopback4 reports whether addr ("host:port") is on an IPv4 loopback address.
func isLoopback4(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Is4() && a.IsLoopback()
}

// Serve accepts connections on the listeners Listen opened until ctx ends or Drain is called.
// When ctx ends it stops accepting, waits up to ShutdownGrace for open connections, closes
// those still open and returns.
func (p *Proxy) Serve(ctx context.Context) error {
	p.mu.Lock()
	lns := p.listeners
	p.mu.Unlock()
	if len(lns) < 2 {
		return errors.New("Serve called before Listen")
	}
	var accepting sync.WaitGroup
	for i, ln := range lns {
		handle := p.handleOutbound
		if i == 0 {
			handle = p.handleInbound
		}
		accepting.Add(1)
		go func() { defer accepting.Done(); p.acceptLoop(ctx, ln, handle) }()
	}
	<-ctx.Done()
	p.closeListeners()
	accepting.Wait()
	done := make(chan struct{})
	go func() { p.conns.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(p.cfg.ShutdownGrace):
		p.log.Warn("shutdown grace over, closing open connections", "open", p.conns.count())
		p.conns.closeAll()
		<-done
	}
	return nil
}

// Run listens and serves until ctx ends.
func (p *Proxy) Run(ctx context.Context) error {
	if err := p.Listen(); err != nil {
		return err
	}
	return p.Serve(ctx)
}

// Drain stops accepting new connections and marks the proxy not ready; open connections carry
// on until they end or Serve's context ends. It is what a pod's preStop hook triggers.
func (p *Proxy) Drain() {
	if !p.draining.Swap(true) {
		p.log.Info("draining", "open", p.conns.count())
		p.closeListeners()
	}
}

func (p *Proxy) closeListeners() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ln := range p.listeners {
		ln.Close()
	}
}

func (p *Proxy) acceptLoop(ctx context.Context, ln net.Listener, handle func(context.Context, *net.TCPConn)) {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off instead of spinning.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			p.log.Warn("accept failed", "listener", ln.Addr().String(), "err", err.Error(), "retryIn", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		p.conns.wg.Add(1)
		go func() {
			defer p.conns.wg.Done()
			handle(ctx, c.(*net.TCPConn))
		}()
	}
}
