package capture

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/outrider-sec/outrider/internal/mesh/netnstest"
)

// backends are the iptables backends every namespace test runs with.
var backends = []Backend{BackendNFT, BackendLegacy}

// requireTools fails the test unless it runs as root with every command the capture and its
// tests use.
func requireTools(t testing.TB) {
	t.Helper()
	netnstest.Require(t)
	for _, b := range backends {
		for _, f := range []Family{IPv4, IPv6} {
			for _, verb := range []string{"save", "restore"} {
				if _, err := exec.LookPath(b.tool(f, verb)); err != nil {
					t.Fatalf("this test needs %s (Debian package iptables): %v", b.tool(f, verb), err)
				}
			}
		}
	}
	if len(families()) != 2 {
		t.Fatal("this test needs a kernel with IPv6 (/proc/sys/net/ipv6)")
	}
}

// newNamespace creates an empty network namespace with lo up, named ortest-cap-<random>, and
// returns its path. It is deleted at cleanup, also when the test fails.
func newNamespace(t testing.TB) string {
	t.Helper()
	requireTools(t)
	var r [4]byte
	rand.Read(r[:])
	name := "ortest-cap-" + hex.EncodeToString(r[:])
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up in %s: %v: %s", name, err, out)
	}
	return "/run/netns/" + name
}

var discard = slog.New(slog.DiscardHandler)

// testContext bounds a test's commands.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// nsRun runs an iptables command in the namespace at path, failing the test on error.
func nsRun(t testing.TB, path, stdin, name string, args ...string) string {
	t.Helper()
	r, err := newRunner(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	out, err := r.run(testContext(t), stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}
