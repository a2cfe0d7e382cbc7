package proxy_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/mesh/authz"
	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// adminClient talks HTTP over the admin Unix socket.
func adminClient(path string) *http.Client {
	return &http.Client{Timeout: patience, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

func get(t *testing.T, c *http.Client, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://admin"+path, nil)
	must(t, err)
	resp, err := c.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestAdminSocket: the admin API lives on a 0600 Unix socket; readiness follows the setters
// and drain; /config and /certs show what is in force and no private key.
func TestAdminSocket(t *testing.T) {
	p, err := proxy.New(proxy.Config{InboundAddr: "127.0.0.1:15006", OutboundAddr: "127.0.0.1:15001"})
	must(t, err)
	path := filepath.Join(t.TempDir(), "run", "admin.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.ServeAdmin(ctx, path) }()
	t.Cleanup(func() { cancel(); <-done })

	c := adminClient(path)
	deadline := time.Now().Add(patience)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("admin socket never appeared")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin socket mode %v, want 0600", fi.Mode().Perm())
	}

	if code, _ := get(t, c, "GET", "/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get(t, c, "GET", "/readyz"); code != 503 || !strings.Contains(body, "no certificate") || !strings.Contains(body, "no policy") {
		t.Errorf("/readyz before configuration = %d %q", code, body)
	}

	authority, err := ca.New(ca.Config{})
	must(t, err)
	id := spiffeid.RequireFromString("spiffe://cluster.local/ns/shop/sa/backend")
	must(t, p.SetCertificate(issue(t, authority, id, 0, "ci")))
	must(t, p.SetTrustBundle(authority.Bundle()))
	must(t, p.SetPolicy(&authz.Policy{Rules: []authz.Rule{{Name: "shop/a#0", Ports: []uint16{8080}}}}))
	if code, body := get(t, c, "GET", "/readyz"); code != 200 {
		t.Errorf("/readyz after configuration = %d %q", code, body)
	}

	_, body := get(t, c, "GET", "/config")
	var cfg proxy.ConfigDump
	must(t, json.Unmarshal([]byte(body), &cfg))
	if cfg.Identity != id.String() || !cfg.Ready || cfg.Mark != "0x539" || len(cfg.Policy.Rules) != 1 {
		t.Errorf("/config = %s", body)
	}
	_, body = get(t, c, "GET", "/certs")
	var certs proxy.CertsDump
	must(t, json.Unmarshal([]byte(body), &certs))
	if len(certs.Chain) != 2 || certs.Chain[0].URIs[0] != id.String() || len(certs.TrustBundle) != 1 || certs.Chain[0].Provenance[0] != "ci" {
		t.Errorf("/certs = %s", body)
	}
	if strings.Contains(body, "PRIVATE") {
		t.Error("/certs shows a private key")
	}

	if code, _ := get(t, c, "GET", "/drain"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /drain = %d, want 405", code)
	}
	if code, _ := get(t, c, "POST", "/drain"); code != 200 {
		t.Errorf("POST /drain = %d", code)
	}
	if code, body := get(t, c, "GET", "/readyz"); code != 503 || !strings.Contains(body, "draining") {
		t.Errorf("/readyz after drain = %d %q", code, body)
	}
}

// TestAdminSocketRefusesToReplaceAFile: a regular file at the socket path is not deleted.
func TestAdminSocketRefusesToReplaceAFile(t *testing.T) {
	p, err := proxy.New(proxy.Config{})
	must(t, err)
	path := filepath.Join(t.TempDir(), "admin.sock")
	must(t, os.WriteFile(path, []byte("keep me"), 0o600))
	if err := p.ServeAdmin(context.Background(), path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("ServeAdmin over a file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Fatal("the file was replaced")
	}
}
