// Command slimproxy is a diagnostic for the mesh benchmark (make bench-mesh, bench/README.md):
// the same data plane as `outrider proxy` — internal/mesh/proxy fed by internal/mesh/filesource,
// with its admin socket and metrics endpoint — in a binary that links nothing else. The
// benchmark runs it beside the real `outrider proxy` to separate what the proxy itself costs
// from what the single `outrider` binary (client-go, CEL, registries, signatures, …) adds to
// every sidecar's memory. It is not a product: the flags are those of `outrider proxy` that
// the benchmark uses, and the wiring mirrors internal/cli's runProxy.
//
// Usage: slimproxy --cert C --key K --bundle B --policy-file P --endpoints-file E
// [--egress deny] [--inbound-port 15006] [--outbound-port 15001] [--admin-socket S]
// [--metrics-addr A]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/outrider-sec/outrider/internal/mesh/filesource"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

func main() {
	var files filesource.Files
	flag.StringVar(&files.Cert, "cert", "", "PEM certificate chain")
	flag.StringVar(&files.Key, "key", "", "PEM private key")
	flag.StringVar(&files.Bundle, "bundle", "", "PEM trust bundle")
	flag.StringVar(&files.Policy, "policy-file", "", "access policy (JSON)")
	flag.StringVar(&files.Endpoints, "endpoints-file", "", "meshed endpoints (JSON)")
	egress := flag.String("egress", "allow", "allow or deny")
	in := flag.Uint("inbound-port", 15006, "inbound port")
	out := flag.Uint("outbound-port", 15001, "outbound port (on 127.0.0.1)")
	admin := flag.String("admin-socket", proxy.DefaultAdminSocket, "admin Unix socket")
	metrics := flag.String("metrics-addr", proxy.DefaultMetricsAddr, "metrics address (empty: off)")
	flag.Parse()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	e, err := proxy.ParseEgress(*egress)
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		err = run(ctx, proxy.Config{
			InboundAddr:     fmt.Sprintf("0.0.0.0:%d", *in),
			OutboundAddr:    fmt.Sprintf("127.0.0.1:%d", *out),
			Egress:          e,
			LogAllowedEvery: 100,
			Log:             log,
			Registry:        prometheus.NewRegistry(),
		}, files, *admin, *metrics, log)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "slimproxy:", err)
		os.Exit(1)
	}
}

// run mirrors internal/cli's runProxy: load the files, listen, serve admin, metrics and
// traffic until ctx ends.
func run(ctx context.Context, cfg proxy.Config, files filesource.Files, admin, metrics string, log *slog.Logger) error {
	cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p, err := proxy.New(cfg)
	if err != nil {
		return err
	}
	loader := filesource.New(files, p, log)
	if err := loader.Load(); err != nil {
		log.Warn("initial load incomplete", "err", err.Error())
	}
	if err := p.Listen(); err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go loader.Watch(ctx, 5*time.Second, hup)
	errs := make(chan error, 2)
	go func() { errs <- p.ServeAdmin(ctx, admin) }()
	if metrics != "" {
		go func() { errs <- p.ServeMetrics(ctx, metrics) }()
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx) }()
	select {
	case err := <-errs:
		if err != nil {
			return err
		}
		return <-served
	case err := <-served:
		return err
	}
}
