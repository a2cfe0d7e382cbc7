// Package proxycmd is the mesh sidecar's command line: `outrider proxy`, and the whole of the
// `outrider-proxy` binary that the injector puts into meshed pods. It links the data plane
// (internal/mesh/proxy), its two sources of state (the identity service's client and the file
// loader) and the probe table, and nothing of the control plane: no Kubernetes client or types,
// no Helm, no policy engine. TestDependencies keeps it that way, because every meshed pod pays
// for what this package links in memory (docs/mesh.md, "The sidecar binary").
package proxycmd

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/identity/client"
	"github.com/outrider-sec/outrider/internal/mesh/appprobe"
	"github.com/outrider-sec/outrider/internal/mesh/filesource"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
	"github.com/outrider-sec/outrider/internal/version"
)

// DefaultIdentityID is the SPIFFE ID the identity service presents when it runs as the Helm
// chart installs it.
const DefaultIdentityID = "spiffe://cluster.local/ns/outrider-system/sa/outrider-identity"

// proxyRun runs the proxy once its options are checked; tests replace it (to run it in a
// network namespace, or to look at the configuration).
var proxyRun = runProxy

// proxyOptions are the flags of `outrider proxy` (and `outrider-proxy`).
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
	mark                      int
	probeAddr                 string

	// identity is the identity service's client configuration; its Address is empty in file
	// mode. Sink and Log are filled in by runProxy.
	identity   client.Config
	identityID string
	// appProbes are the application's original probes (OUTRIDER_APP_PROBES).
	appProbes map[string]proxy.AppProbe
}

// fileFlags are the flags of file mode, identityFlags those of identity mode.
var (
	fileFlags     = []string{"cert", "key", "bundle", "policy-file", "endpoints-file", "reload-interval"}
	identityFlags = []string{"identity-token", "bootstrap-bundle", "identity-id", "identity-ttl"}
)

// New builds the proxy command, named "proxy" for `outrider proxy`; cmd/outrider-proxy renames
// it to be its own root.
func New(s command.Streams) *cobra.Command {
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

In a pod (--identity-address, as the injector runs it) the identity service issues the
certificate from the pod's projected token (--identity-token) and streams the trust bundle,
policy and endpoints; the service is verified as --identity-id against --bootstrap-bundle and
the bundles it pushes. Without --identity-address, the identity, bundle, policy and endpoints
come from files (--cert, --key, --bundle, --policy-file, --endpoints-file), re-read when they
change and on SIGHUP; the two modes do not mix.

The admin API (health, readiness, drain, config and certificate dump) is served only on the
Unix socket --admin-socket; metrics on --metrics-addr. --probe-addr serves the kubelet in plain
HTTP: GET /healthz/ready, and GET /app-health/<container>/<kind>, which performs the
application's original probe from $OUTRIDER_APP_PROBES against 127.0.0.1.`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			egress, err := proxy.ParseEgress(o.egress)
			if err != nil {
				return command.UsageError("--egress: %v", err)
			}
			if o.inboundPort == 0 || o.outboundPort == 0 || o.inboundPort == o.outboundPort {
				return command.UsageError("--inbound-port and --outbound-port must be two different ports")
			}
			if (o.files.Cert == "") != (o.files.Key == "") {
				return command.UsageError("--cert and --key go together")
			}
			if o.logAllowedEvery < 0 {
				return command.UsageError("--log-allowed-every must not be negative")
			}
			if err := o.checkMode(cmd); err != nil {
				return err
			}
			if o.mark == 0 || o.mark < -1 || int64(o.mark) > math.MaxUint32 {
				return command.UsageError("--mark %d: want -1 (no mark) or 1-%d", o.mark, uint32(math.MaxUint32))
			}
			if o.appProbes, err = appProbesFromEnv(o.probeAddr); err != nil {
				return err
			}
			o.files.Endpoints = o.endpointsFile
			if log, err = command.NewLogger(s, o.logFormat, o.logLevel); err != nil {
				return err
			}
			cfg = proxy.Config{
				InboundAddr:     fmt.Sprintf("0.0.0.0:%d", o.inboundPort),
				OutboundAddr:    fmt.Sprintf("127.0.0.1:%d", o.outboundPort),
				Egress:          egress,
				Mark:            o.mark,
				IdleTimeout:     o.idleTimeout,
				LogAllowedEvery: o.logAllowedEvery,
				Log:             log,
				Registry:        prometheus.NewRegistry(),
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := proxyRun(cmd.Context(), cfg, o, log); err != nil {
				return &command.ExitError{Code: 1, Err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint16Var(&o.inboundPort, "inbound-port", 15006, "port the capture rules redirect inbound TCP to")
	f.Uint16Var(&o.outboundPort, "outbound-port", 15001, "port (on 127.0.0.1 and [::1]) the capture rules redirect the application's outbound TCP to")
	f.StringVar(&o.adminSocket, "admin-socket", proxy.DefaultAdminSocket, "Unix socket of the admin API (mode 0600); never a TCP port")
	f.StringVar(&o.metricsAddr, "metrics-addr", proxy.DefaultMetricsAddr, "address of the read-only Prometheus endpoint (empty turns it off)")
	f.StringVar(&o.egress, "egress", string(proxy.EgressAllow), "outbound connections to destinations outside the mesh: allow (plain text) or deny")
	f.IntVar(&o.logAllowedEvery, "log-allowed-every", 100, "log one allowed connection in this many (0: none); every denied one is logged")
	f.DurationVar(&o.idleTimeout, "idle-timeout", time.Hour, "close connections idle this long")
	f.IntVar(&o.mark, "mark", proxy.ProxyMark, "packet mark (SO_MARK) on every connection the proxy makes; needs CAP_NET_ADMIN or CAP_NET_RAW; -1 sets none (capture then exempts the proxy by UID and GID)")
	f.StringVar(&o.probeAddr, "probe-addr", "", "address of the plain-HTTP probe server for the kubelet (/healthz/ready, /app-health/...); empty turns it off")
	f.StringVar(&o.identity.Address, "identity-address", "", "host:port of the identity service; set, the proxy takes its identity, bundle, policy and endpoints from it instead of files")
	f.StringVar(&o.identityID, "identity-id", DefaultIdentityID, "SPIFFE ID the identity service must present")
	f.StringVar(&o.identity.TokenFile, "identity-token", client.DefaultTokenFile, "the pod's projected ServiceAccount token (audience outrider-identity), re-read for every call")
	f.StringVar(&o.identity.BundleFile, "bootstrap-bundle", client.DefaultBundleFile, "PEM trust bundle the identity service is first verified against (the outrider-trust-bundle ConfigMap)")
	f.DurationVar(&o.identity.TTL, "identity-ttl", 0, "lifetime asked for each certificate (0: the service's default)")
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

// checkMode refuses mixing file mode and identity mode, and checks identity mode's flags.
func (o *proxyOptions) checkMode(cmd *cobra.Command) error {
	if o.identity.Address == "" {
		for _, name := range identityFlags {
			if cmd.Flags().Changed(name) {
				return command.UsageError("--%s needs --identity-address", name)
			}
		}
		return nil
	}
	for _, name := range fileFlags {
		if cmd.Flags().Changed(name) {
			return command.UsageError("--%s (file mode) and --identity-address do not mix", name)
		}
	}
	id, err := spiffeid.FromString(o.identityID)
	if err != nil {
		return command.UsageError("--identity-id %q: %v", o.identityID, err)
	}
	o.identity.ServerID = id
	if o.identity.TokenFile == "" || o.identity.BundleFile == "" {
		return command.UsageError("--identity-token and --bootstrap-bundle must not be empty")
	}
	if o.identity.TTL < 0 {
		return command.UsageError("--identity-ttl must not be negative")
	}
	return nil
}

// appProbesFromEnv reads the application's original probes from $OUTRIDER_APP_PROBES. A value
// that does not parse, or probes with no probe server to answer them, fail the start: the
// application's probes would otherwise fail with no word as to why.
func appProbesFromEnv(probeAddr string) (map[string]proxy.AppProbe, error) {
	v := os.Getenv(appprobe.Env)
	if v == "" {
		return nil, nil
	}
	set, err := appprobe.Parse(v)
	if err != nil {
		return nil, command.UsageError("%v", err)
	}
	if probeAddr == "" && len(set) > 0 {
		return nil, command.UsageError("%s names the application's probes but --probe-addr is empty: nothing would answer them", appprobe.Env)
	}
	out := make(map[string]proxy.AppProbe, len(set))
	for path, p := range set {
		switch {
		case p.HTTPGet != nil:
			h := &proxy.AppHTTPProbe{Path: p.HTTPGet.Path, HTTPS: p.HTTPGet.Scheme == "HTTPS"}
			for name, value := range p.HTTPGet.Headers {
				if h.Headers == nil {
					h.Headers = http.Header{}
				}
				h.Headers.Add(name, value)
			}
			out[path] = proxy.AppProbe{Port: uint16(p.HTTPGet.Port), HTTP: h}
		case p.TCPSocket != nil:
			out[path] = proxy.AppProbe{Port: uint16(p.TCPSocket.Port)}
		}
	}
	return out, nil
}

// runProxy runs the proxy, its admin socket, its metrics, its probe server and its source of
// state (the identity service's client, or the file loader) until ctx ends.
func runProxy(ctx context.Context, cfg proxy.Config, o proxyOptions, log *slog.Logger) error {
	if ns, name := os.Getenv("POD_NAMESPACE"), os.Getenv("POD_NAME"); ns != "" && name != "" {
		log = log.With("pod", ns+"/"+name)
		cfg.Log = log
	}
	cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p, err := proxy.New(cfg)
	if err != nil {
		return err
	}
	if uid := os.Geteuid(); uid != int(proxy.ProxyUID) {
		log.Warn("not running as the proxy's UID; capture rules that exempt the proxy by owner will not match it", "uid", uid, "want", proxy.ProxyUID)
	}
	ctx, cancel := context.WithCancel(ctx)
	// Nothing the command started may outlive it (it logs to the caller's stream): stop and
	// wait for the source of state on the way out.
	var sources []chan struct{}
	defer func() {
		cancel()
		for _, done := range sources {
			<-done
		}
	}()
	goTracked := func(fn func()) {
		done := make(chan struct{})
		sources = append(sources, done)
		go func() { defer close(done); fn() }()
	}

	ready := p.Ready
	mode := "files"
	if o.identity.Address != "" {
		mode = "identity"
		icfg := o.identity
		icfg.Sink, icfg.Log = p, log.With("component", "identity-client")
		// The proxy's own dialer: from its namespace, with its mark (or none, with --mark=-1,
		// when capture exempts it by UID), so the connection to the service is not captured.
		icfg.DialOptions = append(icfg.DialOptions, grpc.WithContextDialer(p.Dial))
		c, err := client.New(icfg)
		if err != nil {
			return err
		}
		ready = func() error {
			if err := p.Ready(); err != nil {
				return err
			}
			return c.Ready()
		}
		goTracked(func() { c.Run(ctx) })
	} else {
		loader := filesource.New(o.files, p, log)
		if err := loader.Load(); err != nil {
			log.Warn("initial load incomplete; not ready until it succeeds", "err", err.Error())
		}
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		goTracked(func() { loader.Watch(ctx, o.reloadInterval, hup) })
	}
	if err := p.Listen(); err != nil {
		return err
	}

	errs := make(chan error, 3)
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
	if o.probeAddr != "" {
		go func() {
			if err := p.ServeProbes(ctx, o.probeAddr, proxy.ProbeOptions{Ready: ready, App: o.appProbes}); err != nil {
				errs <- fmt.Errorf("probe server: %w", err)
			}
		}()
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx) }()
	mark := "none"
	if cfg.Mark >= 0 {
		mark = fmt.Sprintf("%#x", cfg.Mark)
	}
	log.Info("proxy started", "version", version.String(), "mode", mode, "identityService", o.identity.Address, "inbound", cfg.InboundAddr, "outbound", cfg.OutboundAddr,
		"admin", o.adminSocket, "metrics", o.metricsAddr, "probes", o.probeAddr, "appProbes", len(o.appProbes), "egress", string(cfg.Egress), "mark", mark)
	select {
	case err := <-errs:
		cancel()
		<-served
		return err
	case err := <-served:
		return err
	}
}
