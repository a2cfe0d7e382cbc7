package filesource

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/outrider-sec/outrider/internal/mesh/authz"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// Target receives what the files say; *proxy.Proxy is one.
type Target interface {
	SetCertificate(tls.Certificate) error
	SetTrustBundle(*x509bundle.Bundle) error
	SetPolicy(*authz.Policy) error
	SetEndpoints(proxy.Endpoints)
}

// Files names the files to read. Cert and Key go together; empty paths are skipped.
type Files struct {
	// Cert is the PEM chain, leaf first; Key its PEM private key.
	Cert, Key string
	// Bundle holds the PEM roots of the proxy's trust domain (the one in its certificate).
	Bundle string
	// Policy is an authz.Policy in its JSON form.
	Policy string
	// Endpoints is a JSON object mapping IP addresses to SPIFFE IDs:
	// {"10.88.0.12": "spiffe://cluster.local/ns/shop/sa/backend"}.
	Endpoints string
}

// Loader reads Files into a Target, each piece only when its bytes changed. A file that
// fails to load leaves the piece the Target already has in place.
type Loader struct {
	files  Files
	target Target
	log    *slog.Logger

	seen map[string][sha256.Size]byte // piece → hash of the bytes last applied
	td   spiffeid.TrustDomain         // from the last certificate applied
}

// New returns a loader; log may be nil.
func New(files Files, target Target, log *slog.Logger) *Loader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Loader{files: files, target: target, log: log, seen: map[string][sha256.Size]byte{}}
}

// Load applies every file whose content changed since the last Load and returns the errors
// of those that failed, joined.
func (l *Loader) Load() error {
	var errs []error
	steps := []struct {
		piece string
		paths []string
		apply func([][]byte) error
	}{
		{"certificate", []string{l.files.Cert, l.files.Key}, l.applyCertificate},
		{"trust bundle", []string{l.files.Bundle}, l.applyBundle},
		{"policy", []string{l.files.Policy}, l.applyPolicy},
		{"endpoints", []string{l.files.Endpoints}, l.applyEndpoints},
	}
	for _, s := range steps {
		if err := l.step(s.piece, s.paths, s.apply); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.piece, err))
		}
	}
	return errors.Join(errs...)
}

func (l *Loader) step(piece string, paths []string, apply func([][]byte) error) error {
	for _, p := range paths {
		if p == "" {
			return nil
		}
	}
	contents := make([][]byte, len(paths))
	h := sha256.New()
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		contents[i] = b
		h.Write(b)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	if prev, ok := l.seen[piece]; ok && prev == sum {
		return nil
	}
	if err := apply(contents); err != nil {
		return err
	}
	l.seen[piece] = sum
	l.log.Info("loaded from file", "piece", piece, "path", paths[0])
	return nil
}

func (l *Loader) applyCertificate(b [][]byte) error {
	cert, err := tls.X509KeyPair(b[0], b[1])
	if err != nil {
		return err
	}
	id, err := x509svid.IDFromCert(cert.Leaf)
	if err != nil {
		return err
	}
	if err := l.target.SetCertificate(cert); err != nil {
		return err
	}
	if l.td != id.TrustDomain() {
		l.td = id.TrustDomain()
		delete(l.seen, "trust bundle") // re-apply the bundle under the right trust domain
	}
	return nil
}

func (l *Loader) applyBundle(b [][]byte) error {
	if l.td.IsZero() {
		return errors.New("no certificate loaded yet: its trust domain names the bundle")
	}
	var roots []*x509.Certificate
	rest := b[0]
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return err
		}
		roots = append(roots, c)
	}
	if len(bytes.TrimSpace(rest)) != 0 || len(roots) == 0 {
		return errors.New("want one or more PEM CERTIFICATE blocks")
	}
	return l.target.SetTrustBundle(x509bundle.FromX509Authorities(l.td, roots))
}

func (l *Loader) applyPolicy(b [][]byte) error {
	p, err := authz.Parse(b[0])
	if err != nil {
		return err
	}
	return l.target.SetPolicy(p)
}

func (l *Loader) applyEndpoints(b [][]byte) error {
	var raw map[string]string
	if err := json.Unmarshal(b[0], &raw); err != nil {
		return err
	}
	eps := make(proxy.Endpoints, len(raw))
	for a, s := range raw {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return err
		}
		id, err := spiffeid.FromString(s)
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
		eps[addr] = id
	}
	l.target.SetEndpoints(eps)
	return nil
}

// Watch reloads every interval and whenever reload receives, until ctx ends. Errors are
// logged; the proxy keeps what it had.
func (l *Loader) Watch(ctx context.Context, interval time.Duration, reload <-chan os.Signal) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-reload:
			l.log.Info("reloading on signal")
		}
		if err := l.Load(); err != nil {
			l.log.Warn("reload failed; keeping the previous configuration", "err", err.Error())
		}
	}
}
