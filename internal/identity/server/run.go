package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Run runs the identity service against the cluster cfg points at until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, opts Options, log *slog.Logger) error {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	s, err := New(ctx, Clients{Kube: kube, Dynamic: dyn}, opts, log)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", s.opts.ListenAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.opts.ListenAddr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	httpErr := make(chan error, 1)
	if s.opts.HTTPAddr != "0" {
		go func() { httpErr <- s.serveHTTP(ctx) }()
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, lis) }()
	select {
	case err := <-httpErr:
		cancel()
		<-served
		return err
	case err := <-served:
		return err
	}
}

// serveHTTP serves /healthz (the process answers), /readyz (Ready) and /metrics.
func (s *Server) serveHTTP(ctx context.Context) error {
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Addr: s.opts.HTTPAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("health and metrics on %s: %w", s.opts.HTTPAddr, err)
	}
	return nil
}
