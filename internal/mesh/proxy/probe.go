package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The probe server answers the kubelet in a meshed pod, in plain HTTP on a TCP port that the
// capture rules leave alone and close to the pod's other containers:
//
//	GET /healthz/ready                   200 when the proxy is ready, 503 and what is missing otherwise
//	GET /app-health/<container>/<kind>   the application's original probe of that name, performed
//	                                     on 127.0.0.1: 200 when it succeeds, 503 when it fails
//
// Anything else is 404. It is not the admin API: nothing here changes the proxy or shows its
// configuration. Whatever the request says (its path, Host, an absolute URL, its query), the
// only connections it makes are those its table names, to 127.0.0.1 at the table's port.

// Probe server defaults.
const (
	// DefaultProbeTimeout bounds an application probe when the request names no timeout. The
	// kubelet sends none: it hangs up after the probe's own timeoutSeconds, which cancels the
	// probe, so this only bounds clients that never hang up.
	DefaultProbeTimeout = 10 * time.Second
	// maxProbeTimeout caps the timeout a request may ask for.
	maxProbeTimeout = time.Minute
	// maxProbesInFlight bounds the application probes running at once; the kubelet runs a few
	// per container, and anyone who can reach the pod could ask for more.
	maxProbesInFlight = 32
	// maxProbeBody is how much of an HTTP probe's response is read, as the kubelet does (10 KiB).
	maxProbeBody = 10 << 10
)

// AppProbe is one of the application's original HTTP or TCP probes, which the probe server
// performs against 127.0.0.1:Port when the kubelet asks for its path.
type AppProbe struct {
	// Port is the application's port on 127.0.0.1.
	Port uint16
	// HTTP makes it an httpGet probe; nil makes it a tcpSocket probe (a TCP connect).
	HTTP *AppHTTPProbe
}

// AppHTTPProbe is an httpGet probe: a GET of Path with Headers, over TLS without verifying
// the certificate when HTTPS is set, as the kubelet does. A status from 200 to 399 is success.
type AppHTTPProbe struct {
	// Path is the path (and query) as written in the pod spec; empty means "/".
	Path string
	// HTTPS selects the HTTPS scheme.
	HTTPS bool
	// Headers are sent with the request; a Host header sets the request's host.
	Headers http.Header
}

// ProbeOptions configure the probe server.
type ProbeOptions struct {
	// Ready decides /healthz/ready. Default: the proxy's Ready.
	Ready func() error
	// App are the application's original probes, by request path (/app-health/<container>/<kind>).
	App map[string]AppProbe
	// Timeout bounds an application probe when the request asks for none (a "timeout" query
	// parameter, a Go duration or whole seconds, may ask for up to a minute). Default
	// DefaultProbeTimeout.
	Timeout time.Duration
}

// ProbeServer returns the probe server, ready to Serve on a listener. It refuses a table
// entry that is not an /app-health/ path with a port.
func (p *Proxy) ProbeServer(o ProbeOptions) (*http.Server, error) {
	for path, pr := range o.App {
		if !strings.HasPrefix(path, "/app-health/") || pr.Port == 0 {
			return nil, fmt.Errorf("application probe %q: want an /app-health/ path and a port", path)
		}
	}
	if o.Ready == nil {
		o.Ready = p.Ready
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultProbeTimeout
	}
	return &http.Server{
		Handler:                      &probeHandler{p: p, o: o, slots: make(chan struct{}, maxProbesInFlight)},
		DisableGeneralOptionsHandler: true, // "OPTIONS *" reaches the handler, which refuses it
		ReadHeaderTimeout:            5 * time.Second,
		WriteTimeout:                 maxProbeTimeout + 5*time.Second,
		IdleTimeout:                  time.Minute,
		MaxHeaderBytes:               16 << 10,
		ErrorLog:                     slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}, nil
}

// ServeProbes serves ProbeServer on a TCP address in the proxy's network namespace until ctx
// ends.
func (p *Proxy) ServeProbes(ctx context.Context, addr string, o ProbeOptions) error {
	srv, err := p.ProbeServer(o)
	if err != nil {
		return err
	}
	var ln net.Listener
	if err := p.ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(shutdown) != nil {
			srv.Close()
		}
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type probeHandler struct {
	p     *Proxy
	o     ProbeOptions
	slots chan struct{}
}

func (h *probeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Only origin-form targets ("/path"): an absolute URL or an authority names somewhere else,
	// and the answer would suggest it was probed.
	if !strings.HasPrefix(r.RequestURI, "/") {
		http.Error(w, "bad request target", http.StatusBadRequest)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// The path as sent, escapes and all, must equal a known one: no cleaning, no decoding.
	path := r.URL.EscapedPath()
	if path == "/healthz/ready" {
		if err := h.o.Ready(); err != nil {
			http.Error(w, "not ready: "+strings.ReplaceAll(err.Error(), "\n", "; "), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
		return
	}
	probe, ok := h.o.App[path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	timeout := h.o.Timeout
	if s := r.URL.Query().Get("timeout"); s != "" {
		d, err := parseProbeTimeout(s)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		timeout = d
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		http.Error(w, "too many probes in flight", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := h.run(ctx, probe, r.UserAgent()); err != nil {
		h.p.log.Debug("application probe failed", "path", path, "err", err.Error())
		http.Error(w, "probe failed: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// parseProbeTimeout reads a Go duration ("500ms") or whole seconds ("3").
func parseProbeTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.Atoi(s)
		if nerr != nil {
			return 0, fmt.Errorf("timeout %q: want a duration or seconds", s)
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 || d > maxProbeTimeout {
		return 0, fmt.Errorf("timeout %q: want more than 0 and at most %s", s, maxProbeTimeout)
	}
	return d, nil
}

// run performs one application probe against 127.0.0.1.
func (h *probeHandler) run(ctx context.Context, probe AppProbe, userAgent string) error {
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(probe.Port)))
	if probe.HTTP == nil {
		c, err := h.p.dial(ctx, target)
		if err != nil {
			return err
		}
		return c.Close()
	}
	return h.runHTTP(ctx, target, probe.HTTP, userAgent)
}

// runHTTP performs an httpGet probe as the kubelet would, except that redirects are never
// followed: a 3xx is a success (the kubelet's rule for a redirect to another host), and the
// proxy connects nowhere but target.
func (h *probeHandler) runHTTP(ctx context.Context, target string, probe *AppHTTPProbe, userAgent string) error {
	u, err := url.Parse(probe.Path)
	if err != nil {
		u = &url.URL{Path: probe.Path}
	}
	u.Scheme, u.Host, u.User, u.Opaque, u.Fragment = "http", target, nil, "", ""
	if probe.HTTPS {
		u.Scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	// The kubelet's defaults, which the probe's own headers override.
	if !strings.HasPrefix(userAgent, "kube-probe/") {
		userAgent = "kube-probe/outrider"
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "*/*")
	for name, values := range probe.Headers {
		if strings.EqualFold(name, "Host") {
			if len(values) > 0 {
				req.Host = values[0]
			}
			continue
		}
		req.Header[http.CanonicalHeaderKey(name)] = append([]string(nil), values...)
	}
	client := &http.Client{
		Transport: &http.Transport{
			// Always target, whatever the URL or a redirect says; never an HTTP proxy.
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return h.p.dial(ctx, target)
			},
			Proxy: nil,
			// The kubelet does not verify the application's certificate either.
			TLSClientConfig:    &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives:  true,
			DisableCompression: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
