package cli

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/identity/server"
)

func execIdentity(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newIdentityCommand(command.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String() + errOut.String(), err
}

func TestIdentityUsageErrors(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "")
	for _, args := range [][]string{
		{}, // no namespace
		{"--namespace", "x", "--max-ttl", "30s"},
		{"--namespace", "x", "--default-ttl", "30s"},
		{"--namespace", "x", "--default-ttl", "200h"},
		{"--namespace", "x", "--rotation-overlap", "1h"},
		{"--namespace", "x", "--rotation-propagation", "0"},
		{"--namespace", "x", "--log-format", "xml"},
	} {
		_, err := execIdentity(t, args...)
		var exit *command.ExitError
		if !errors.As(err, &exit) || exit.Code != 2 {
			t.Errorf("outrider identity %v: %v, want a usage error", args, err)
		}
	}
}

// TestIdentityFlagsReachTheService checks the options the flags produce, without a cluster.
func TestIdentityFlagsReachTheService(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "outrider-system")
	t.Setenv("KUBECONFIG", writeKubeconfig(t))
	var got server.Options
	identityRun = func(_ context.Context, _ *rest.Config, o server.Options, _ *slog.Logger) error { got = o; return nil }
	t.Cleanup(func() { identityRun = server.Run })
	if _, err := execIdentity(t, "--trust-domain", "prod.example", "--max-ttl", "1h", "--default-ttl", "1m",
		"--rotation-propagation", "10m", "--root-secret", "my-root", "--provenance-keys", "keys"); err != nil {
		t.Fatal(err)
	}
	want := server.Options{TrustDomain: "prod.example", Namespace: "outrider-system", ServiceAccount: "outrider-identity",
		StateSecret: "outrider-identity-ca", RootSecret: "my-root", ProvenanceKeys: "keys", Audience: "outrider-identity",
		DefaultTTL: time.Minute, MaxTTL: time.Hour, RotationPropagation: 10 * time.Minute,
		ListenAddr: ":15012", HTTPAddr: ":15014"}
	if got != want {
		t.Errorf("options\n got %+v\nwant %+v", got, want)
	}
}

func TestRotateRootUnreachableCluster(t *testing.T) {
	out, err := execIdentity(t, "rotate-root", "--kubeconfig", writeKubeconfig(t))
	var exit *command.ExitError
	if !errors.As(err, &exit) || exit.Code != 1 || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("rotate-root against an unreachable cluster: %v (%s)", err, out)
	}
}

func writeKubeconfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	const kc = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
