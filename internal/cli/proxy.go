package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/outrider-sec/outrider/internal/mesh/filesource"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// proxyOptions are the flags of `outrider proxy`.
type proxyOptions struct {
	inboundPort, outboundPort uint16
	adminSocket               string
	metricsAddr               string
	egress                    string
	logAllowedEvery           int
	idleTimeout               time.Duration
	files                     filesource.Files
	endpointsFile             string
	reloadInterval            time.Duration
	logFormat, logLevel       string
}

func newProxyCommand(s Streams) *cobra.Command {
	var (
		o   proxyOptions
		cfg proxy.Config
		log *slog.Logger
	)
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run the mesh sidecar proxy (injected into meshed pods)",
		Long: `Run Outrider's sidecar proxy. The pod's capture rules redirect inbound TCP to the inbound
port and the application's outbound TCP to the outbound port. Inbound, the proxy terminates
mutual TLS (TLS 1.3, SPIFFE identities), authorizes the peer against the workload's access
policy and forwards to the application on 127.0.0.1; outbound, it originates mutual TLS to
meshed endpoints and applies --egress to the rest.

The admin API (health, readiness, drain, config and certificate dump) is served only on the
Unix socket --admin-socket; metrics on --metrics-addr. Until the identity service is wired in,
the identity, trust bundle, policy and endpoints come from files, re-read when they change
and on SIGHUP.`,
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			egress, err := proxy.ParseEgress(o.egress)
			if err != nil {
				return usageError("--egress: %v", err)
			}
			if o.inboundPort == 0 || o.outboundPort == 0 || o.inboundPort == o.outboundPort {
				return usageError("--inbound-port and --outbound-port must be two different ports")
			}
			if (o.files.Cert == "") != (o.files.Key == "") {
				return usageError("--cert and --key go together")
			}
			if o.logAllowedEvery < 0 {
				return usageError("--log-allowed-every must not be negative")
			}
			o.files.Endpoints = o.endpointsFile
			if log, err = newLogger(s, o.logFormat, o.logLevel); err != nil {
				return err
			}
			cfg = proxy.Config{
				InboundAddr:     fmt.Sprintf("0.0.0.0:%d", o.inboundPort),
				OutboundAddr:    fmt.Sprintf("127.0.0.1:%d", o.outboundPort),
				Egress:          egress,
				IdleTimeout:     o.idleTimeout,
				LogAllowedEvery: o.logAllowedEvery,
				Log:             log,
				Registry:        prometheus.NewRegistry(),
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := runProxy(cmd.Context(), cfg, o, log); err != nil {
				return &ExitError{Code: 1, Err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint16Var(&o.inboundPort, "inbound-port", 15006, "port the capture rules redirect inbound TCP to")
	f.Uint16Var(&o.outboundPort, "outbound-port", 15001, "port (on 127.0.0.1) the capture rules redirect the application's outbound TCP to")
	f.StringVar(&o.adminSocket, "admin-socket", proxy.DefaultAdminSocket, "Unix socket of the admin API (mode 0600); never a TCP port")
	f.StringVar(&o.metricsAddr, "metrics-addr", proxy.DefaultMetricsAddr, "address of the read-only Prometheus endpoint (empty turns it off)")
	f.StringVar(&o.egress, "egress", string(proxy.EgressAllow), "outbound connections to destinations outside the mesh: allow (plain text) or deny")
	f.IntVar(&o.logAllowedEvery, "log-allowed-every", 100, "log one allowed connection in this many (0: none); every denied one is logged")
	f.DurationVar(&o.idleTimeout, "idle-timeout", time.Hour, "close connections idle this long")
	f.StringVar(&o.files.Cert, "cert", "", "PEM certificate chain (X509-SVID, leaf first)")
	f.StringVar(&o.files.Key, "key", "", "PEM private key of --cert")
	f.StringVar(&o.files.Bundle, "bundle", "", "PEM trust bundle (roots of the trust domain)")
	f.StringVar(&o.files.Policy, "policy-file", "", "access policy in its JSON form (see docs/mesh.md)")
	f.StringVar(&o.endpointsFile, "endpoints-file", "", `meshed endpoints, JSON {"<ip>": "<spiffe id>"}`)
	f.DurationVar(&o.reloadInterval, "reload-interval", 5*time.Second, "how often the files are checked for changes (SIGHUP reloads at once)")
	f.StringVar(&o.logFormat, "log-format", "json", "log format: json or text")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// runProxy runs the proxy, its admin socket, its metrics and the file loader until ctx ends.
func runProxy(ctx context.Context, cfg proxy.Config, o proxyOptions, log *slog.Logger) error {
	cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p, err := proxy.New(cfg)
	if err != nil {
		return err
	}
	if uid := os.Geteuid(); uid != int(proxy.ProxyUID) {
		log.Warn("not running as the proxy's UID; capture rules that exempt the proxy by owner will not match it", "uid", uid, "want", proxy.ProxyUID)
	}
	loader := filesource.New(o.files, p, log)
	if err := loader.Load(); err != nil {
		log.Warn("initial load incomplete; not ready until it succeeds", "err", err.Error())
	}
	if err := p.Listen(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// Nothing the command started may outlive it (it logs to the caller's stream): stop and
	// wait for the loader on the way out.
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		loader.Watch(ctx, o.reloadInterval, hup)
	}()
	defer func() {
		cancel()
		<-watching
	}()

	errs := make(chan error, 2)
	go func() {
		if err := p.ServeAdmin(ctx, o.adminSocket); err != nil {
			errs <- fmt.Errorf("admin socket: %w", err)
		}
	}()
	if o.metricsAddr != "" {
		go func() {
			if err := p.ServeMetrics(ctx, o.metricsAddr); err != nil {
				errs <- fmt.Errorf("metrics: %w", err)
			}
		}()
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx) }()
	log.Info("proxy started", "inbound", cfg.InboundAddr, "outbound", cfg.OutboundAddr, "admin", o.adminSocket, "metrics", o.metricsAddr, "egress", string(cfg.Egress))
	select {
	case err := <-errs:
		cancel()
		<-served
		return err
	case err := <-served:
		return err
	}
}
