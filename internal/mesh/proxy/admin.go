package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// AdminHandler serves the proxy's lifecycle and introspection API. It is meant for a Unix
// socket that only the proxy's container mounts (ServeAdmin), never for a TCP port: in a pod
// every container shares the network namespace, so a TCP admin port would be reachable by
// the application.
//
//	GET  /healthz  200 while the process serves
//	GET  /readyz   200 once it has a certificate, a trust bundle and a policy and is not draining; 503 and the reason otherwise
//	POST /drain    stop accepting connections (open ones carry on); /readyz turns 503
//	GET  /config   the configuration, policy and endpoints in force, as JSON
//	GET  /certs    the proxy's certificate chain and trust bundle, as JSON (no private key)
func (p *Proxy) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := p.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /drain", func(w http.ResponseWriter, _ *http.Request) {
		p.Drain()
		fmt.Fprintln(w, "draining")
	})
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, p.configDump()) })
	mux.HandleFunc("GET /certs", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, p.certsDump()) })
	return mux
}

// ServeAdmin serves AdminHandler on a Unix socket at path until ctx ends. The directory is
// created with mode 0700 if missing and the socket gets mode 0600; a stale socket left by a
// previous run is replaced, anything else at path is an error.
func (p *Proxy) ServeAdmin(ctx context.Context, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("admin socket directory: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return fmt.Errorf("admin socket %s: a file that is not a socket is in the way", path)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("admin socket: %w", err)
	}
	return serveHTTP(ctx, ln, p.AdminHandler())
}

// serveHTTP serves h on ln until ctx ends.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// ConfigDump is what /config returns.
type ConfigDump struct {
	Identity        string            `json:"identity,omitempty"`
	Ready           bool              `json:"ready"`
	NotReady        string            `json:"notReady,omitempty"`
	Draining        bool              `json:"draining"`
	InboundAddr     string            `json:"inboundAddr"`
	OutboundAddr    string            `json:"outboundAddr"`
	Egress          Egress            `json:"egress"`
	Mark            string            `json:"mark"` // "none" when the proxy sets no mark
	IdleTimeout     string            `json:"idleTimeout"`
	OpenConnections int               `json:"openConnections"`
	Policy          *authz.Policy     `json:"policy"`
	Endpoints       map[string]string `json:"endpoints"`
}

func (p *Proxy) configDump() ConfigDump {
	d := ConfigDump{
		Identity:     p.localID(),
		Draining:     p.draining.Load(),
		InboundAddr:  p.cfg.InboundAddr,
		OutboundAddr: p.cfg.OutboundAddr,
		Egress:       p.cfg.Egress,
		Mark:         "none",
		IdleTimeout:  p.cfg.IdleTimeout.String(),
		Policy:       p.policy.Load(),
		Endpoints:    map[string]string{},
	}
	if p.cfg.Mark >= 0 {
		d.Mark = fmt.Sprintf("%#x", p.cfg.Mark)
	}
	if err := p.Ready(); err != nil {
		d.NotReady = err.Error()
	} else {
		d.Ready = true
	}
	d.OpenConnections = p.conns.count()
	for a, id := range p.endpointsSnapshot() {
		d.Endpoints[a.String()] = id.String()
	}
	return d
}

// CertDump describes one certificate for /certs.
type CertDump struct {
	Subject    string    `json:"subject,omitempty"`
	URIs       []string  `json:"uris,omitempty"`
	Issuer     string    `json:"issuer"`
	Serial     string    `json:"serial"`
	NotBefore  time.Time `json:"notBefore"`
	NotAfter   time.Time `json:"notAfter"`
	SHA256     string    `json:"sha256"`
	Provenance []string  `json:"provenance,omitempty"`
}

// CertsDump is what /certs returns.
type CertsDump struct {
	Chain       []CertDump `json:"chain"`
	TrustDomain string     `json:"trustDomain,omitempty"`
	TrustBundle []CertDump `json:"trustBundle"`
}

func (p *Proxy) certsDump() CertsDump {
	var d CertsDump
	if l := p.local.Load(); l != nil {
		for _, der := range l.cert.Certificate {
			if c, err := x509.ParseCertificate(der); err == nil {
				d.Chain = append(d.Chain, describe(c))
			}
		}
	}
	if b := p.bundle.Load(); b != nil {
		d.TrustDomain = b.TrustDomain().String()
		for _, c := range b.X509Authorities() {
			d.TrustBundle = append(d.TrustBundle, describe(c))
		}
	}
	return d
}

func describe(c *x509.Certificate) CertDump {
	sum := sha256.Sum256(c.Raw)
	d := CertDump{
		Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.Text(16),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), SHA256: hex.EncodeToString(sum[:]),
	}
	for _, u := range c.URIs {
		d.URIs = append(d.URIs, u.String())
	}
	d.Provenance, _ = ca.ProvenanceOf(c)
	return d
}
