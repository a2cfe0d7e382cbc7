package controller

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// DrainAddr is where a replica listens for the drain request its preStop hook sends. It is
// loopback-only: only the controller's own container can ask it to drain.
const DrainAddr = "127.0.0.1:8082"

// DrainDelay is how long a draining replica keeps answering, closing each connection after its
// response, before it lets the kubelet stop it.
const DrainDelay = 5 * time.Second

// drainer lets a stopping replica hand its traffic over without dropping a request. The API
// server keeps webhook connections alive and does not retry a POST that fails on a connection
// the server has just closed, and the webhooks fail closed: so before shutting down, a replica
// answers every request with "Connection: close" for DrainDelay, by which time its endpoint is
// gone and no idle connection to it is left to race with the shutdown.
type drainer struct {
	draining atomic.Bool
	delay    time.Duration
}

// wrap closes each connection after its response once draining has begun.
func (d *drainer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP starts draining and answers once the delay has passed, so the preStop hook that
// called it holds the kubelet's SIGTERM back until then.
func (d *drainer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.draining.Store(true)
	select {
	case <-time.After(d.delay):
	case <-r.Context().Done():
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("drained\n"))
}

// run serves the drain endpoint on addr until ctx ends.
func (d *drainer) run(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/drain", d)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
