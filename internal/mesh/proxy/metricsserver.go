package proxy

import (
	"context"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsHandler serves the proxy's metrics in the Prometheus format. It is read-only: any
// method but GET and HEAD, and any path but /metrics, is refused.
func (p *Proxy) MetricsHandler() http.Handler {
	prom := promhttp.HandlerFor(p.cfg.Registry, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/metrics":
			http.NotFound(w, r)
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read-only", http.StatusMethodNotAllowed)
		default:
			prom.ServeHTTP(w, r)
		}
	})
}

// ServeMetrics serves MetricsHandler on a TCP address in the proxy's network namespace until
// ctx ends. The pod's capture rules must leave this port alone for Prometheus to reach it.
func (p *Proxy) ServeMetrics(ctx context.Context, addr string) error {
	var ln net.Listener
	if err := p.ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		return err
	}
	return serveHTTP(ctx, ln, p.MetricsHandler())
}
