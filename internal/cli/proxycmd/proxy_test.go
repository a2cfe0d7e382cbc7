package proxycmd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/identity/ca"
	"github.com/outrider-sec/outrider/internal/mesh/netnstest"
)

func execProxy(ctx context.Context, args ...string) (string, error) {
	var errOut bytes.Buffer
	err := execProxyLogging(ctx, &errOut, args...)
	return errOut.String(), err
}

// execProxyLogging runs `outrider proxy` with its logs (standard error) going to errOut.
func execProxyLogging(ctx context.Context, errOut io.Writer, args ...string) error {
	cmd := New(command.Streams{In: strings.NewReader(""), Out: io.Discard, Err: errOut})
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.ExecuteContext(ctx)
}

func TestProxyUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--egress", "maybe"},
		{"--inbound-port", "15001"},
		{"--cert", "c.pem"},
		{"--log-allowed-every", "-1"},
		{"--log-format", "xml"},
		{"--mark", "0"},
		{"--mark", "-2"},
		{"--mark", "4294967296"},
		// File mode and identity mode do not mix.
		{"--identity-address", "identity:15012", "--cert", "c.pem", "--key", "k.pem"},
		{"--identity-address", "identity:15012", "--bundle", "b.pem"},
		{"--identity-address", "identity:15012", "--policy-file", "p.json"},
		{"--identity-address", "identity:15012", "--endpoints-file", "e.json"},
		{"--identity-address", "identity:15012", "--reload-interval", "1s"},
		{"--identity-token", "/t"},
		{"--bootstrap-bundle", "/b.pem"},
		{"--identity-id", "spiffe://cluster.local/ns/x/sa/y"},
		{"--identity-ttl", "1h"},
		{"--identity-address", "identity:15012", "--identity-id", "outrider-identity"},
		{"--identity-address", "identity:15012", "--identity-ttl", "-1m"},
	} {
		_, err := execProxy(context.Background(), args...)
		var exit *command.ExitError
		if !errors.As(err, &exit) || exit.Code != 2 {
			t.Errorf("outrider proxy %v: %v, want a usage error", args, err)
		}
	}
}

// TestProxyCommandLoadsFilesAndReloads runs `outrider proxy` inside a network namespace with
// its identity, bundle and policy in files: it becomes ready on its admin socket, and a
// policy file edit reaches it, while a broken edit is refused and the old policy kept.
func TestProxyCommandLoadsFilesAndReloads(t *testing.T) {
	n := netnstest.New(t)
	node := n.AddNode("proxy")
	dir := t.TempDir()
	writeProxyFiles(t, dir)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("policy.json", `{"defaultDeny": true}`)
	sock := filepath.Join(dir, "admin", "admin.sock")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		// The command listens on the calling thread, so it listens inside the namespace.
		done <- node.Do(func() error {
			stderr, err := execProxy(ctx, "--admin-socket", sock, "--metrics-addr", "", "--reload-interval", "50ms",
				"--cert", filepath.Join(dir, "cert.pem"), "--key", filepath.Join(dir, "key.pem"),
				"--bundle", filepath.Join(dir, "bundle.pem"), "--policy-file", filepath.Join(dir, "policy.json"))
			if err != nil {
				t.Logf("stderr:\n%s", stderr)
			}
			return err
		})
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			<-done
		}
	})

	admin := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	getBody := func(path string) (int, string) {
		resp, err := admin.Get("http://admin" + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waited 60s for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	policy := func() map[string]any {
		_, body := getBody("/config")
		var cfg struct{ Policy map[string]any }
		json.Unmarshal([]byte(body), &cfg)
		return cfg.Policy
	}
	eventually("readiness", func() bool { code, _ := getBody("/readyz"); return code == 200 })
	if p := policy(); p["defaultDeny"] != true {
		t.Fatalf("policy in force %v, want defaultDeny", p)
	}

	write("policy.json", `{"permissive": true}`)
	eventually("the edited policy", func() bool { return policy()["permissive"] == true })

	write("policy.json", `{"permissive": true, "rules": [{"name": "x", "ports": [0]}]}`)
	time.Sleep(300 * time.Millisecond) // several reload intervals: the broken file must not win
	if p := policy(); p["permissive"] != true || p["rules"] != nil {
		t.Fatalf("a broken policy file replaced the policy: %v", p)
	}

	cancel()
	stopped = true
	if err := <-done; err != nil {
		t.Fatalf("outrider proxy exited with %v", err)
	}
}

func writeProxyFiles(t *testing.T, dir string) {
	authority, err := ca.New(ca.Config{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	svid, err := authority.Issue(ca.IssueRequest{CSR: csr, Namespace: "shop", ServiceAccount: "backend"})
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	root := authority.Bundle().X509Authorities()[0]
	for name, content := range map[string][]byte{
		"cert.pem":   svid.ChainPEM(),
		"key.pem":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"bundle.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
