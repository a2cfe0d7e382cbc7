package proxy

import (
	"sync"

	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// tracked is an open connection the proxy can close from outside its goroutines: on a policy
// change (inbound only) and at the end of a shutdown grace period.
type tracked struct {
	inbound bool
	peer    authz.Peer
	port    uint16
	// perRequest is set when each HTTP request is authorized; a policy change then applies to
	// the next request by itself, and the connection is closed only if nothing could be allowed.
	perRequest bool
	remote     string
	close      func()
}

// connSet is the set of open connections. Every handler is counted in wg from accept to
// close, so shutdown can wait for all of them; a connection joins the set once it forwards.
type connSet struct {
	mu    sync.Mutex
	conns map[*tracked]struct{}
	wg    sync.WaitGroup
}

func newConnSet() *connSet { return &connSet{conns: make(map[*tracked]struct{})} }

// add registers t; the returned function removes it.
func (s *connSet) add(t *tracked) (remove func()) {
	s.mu.Lock()
	s.conns[t] = struct{}{}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.conns, t)
		s.mu.Unlock()
	}
}

// setPerRequest changes how a registered connection is authorized.
func (s *connSet) setPerRequest(t *tracked, v bool) {
	s.mu.Lock()
	t.perRequest = v
	s.mu.Unlock()
}

// revoked returns the inbound connections pol no longer allows, without closing them.
func (s *connSet) revoked(pol *authz.Policy) []*tracked {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*tracked
	for t := range s.conns {
		if !t.inbound {
			continue
		}
		d := pol.Authorize(t.peer, t.port, nil)
		// An opaque connection needs an L4 allow. One inspected per request survives as long
		// as some request could still be allowed; the next request meets the new policy.
		if d.Allowed || (t.perRequest && d.NeedsHTTP) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// closeAll closes every open connection.
func (s *connSet) closeAll() {
	s.mu.Lock()
	all := make([]*tracked, 0, len(s.conns))
	for t := range s.conns {
		all = append(all, t)
	}
	s.mu.Unlock()
	for _, t := range all {
		t.close()
	}
}

func (s *connSet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
