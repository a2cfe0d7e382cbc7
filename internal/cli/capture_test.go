package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/mesh/capture"
)

// runCaptureCmd runs `outrider capture …` in-process as Execute does, with the capture command
// added to the root until root.go registers it, and returns exit code, stdout and stderr.
func runCaptureCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	s := command.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}
	root := NewRoot(s)
	if c, _, err := root.Find([]string{"capture"}); err != nil || c == root {
		root.AddCommand(newCaptureCommand(s))
	}
	root.SetArgs(append([]string{"capture"}, args...))
	err := root.ExecuteContext(context.Background())
	var exit *command.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &exit):
		if exit.Err != nil {
			fmt.Fprintf(&errb, "outrider: %v\n", exit.Err)
		}
		return exit.Code, out.String(), errb.String()
	}
	fmt.Fprintf(&errb, "outrider: %v\n", err)
	return 2, out.String(), errb.String()
}

func capturePayload(t *testing.T, cfg capture.Config, f capture.Family) string {
	t.Helper()
	tables, err := capture.Rules(cfg, f)
	if err != nil {
		t.Fatal(err)
	}
	return capture.Render(tables)
}

func TestCaptureDryRunPrintsThePayloads(t *testing.T) {
	code, out, errs := runCaptureCmd(t, "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := "# iptables-restore payload (IPv4)\n" + capturePayload(t, capture.Config{}, capture.IPv4) +
		"# ip6tables-restore payload (IPv6, installed whenever the kernel has IPv6)\n" + capturePayload(t, capture.Config{}, capture.IPv6)
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

func TestCaptureFlagsReachTheRules(t *testing.T) {
	code, out, errs := runCaptureCmd(t, "--dry-run", "--exclude-inbound-ports", "22,8443", "--exclude-outbound-ports", "3306",
		"--exclude-outbound-cidrs", "192.0.2.7/24,2001:db8::1", "--proxy-mark=-1", "--proxy-ports=", "--inbound-port", "16006")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, line := range []string{
		"-A OUTRIDER_INBOUND -p tcp -m multiport --dports 22,8443 -j RETURN",
		"-A OUTRIDER_INBOUND -p tcp -m multiport --dports 15001,16006 -j RETURN",
		"-A OUTRIDER_INBOUND -p tcp -j REDIRECT --to-ports 16006",
		"-A OUTRIDER_OUTPUT -p tcp -m multiport --dports 3306 -j RETURN",
		"-A OUTRIDER_OUTPUT -d 192.0.2.0/24 -j RETURN",
		"-A OUTRIDER_OUTPUT -d 2001:db8::1/128 -j RETURN",
		"-A OUTRIDER_OUTPUT -m owner --uid-owner 1337 --gid-owner 1337 -j RETURN",
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("missing %q in:\n%s", line, out)
		}
	}
	if strings.Contains(out, "--mark") || strings.Contains(out, "15090") {
		t.Errorf("the mark or the metrics port is still there:\n%s", out)
	}
}

func TestCaptureUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--dry-run", "--verify-only"},
		{"--backend", "iptables"},
		{"--exclude-outbound-cidrs", "10.0.0.0/33"},
		{"--exclude-outbound-cidrs", "nonsense"},
		{"--exclude-inbound-ports", "70000"},
		{"--exclude-inbound-ports", "0"},
		{"--proxy-uid", "0"},
		{"--proxy-mark", "0"},
		{"--proxy-mark", "zzz"},
		{"--proxy-uid=-1", "--proxy-mark=-1"},
		{"--inbound-port", "0"},
		{"--inbound-port", "15001"},
		{"--log-format", "xml"},
		{"extra-argument"},
	} {
		if code, _, errs := runCaptureCmd(t, append([]string{"--dry-run"}, args...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, code, errs)
		} else if !strings.HasPrefix(errs, "outrider: ") {
			t.Errorf("%v: no message: %q", args, errs)
		}
	}
}

// TestCaptureInstallsVerifiesAndDetectsTampering runs the command for real in a namespace of
// its own: install, verify, then a rule inserted by hand makes --verify-only fail.
func TestCaptureInstallsVerifiesAndDetectsTampering(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test programs iptables in a network namespace: run it as root")
	}
	for _, tool := range []string{"ip", "iptables-nft-restore", "iptables-nft-save", "ip6tables-nft-restore", "iptables-legacy-save"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this test needs %s (packages iproute2 and iptables): %v", tool, err)
		}
	}
	var r [4]byte
	rand.Read(r[:])
	name := "ortest-cap-cli-" + hex.EncodeToString(r[:])
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	path := "/run/netns/" + name

	if code, out, errs := runCaptureCmd(t, "--netns", path, "--exclude-inbound-ports", "22"); code != 0 ||
		!strings.HasPrefix(out, "capture rules installed and verified: ") || !strings.Contains(out, "nft backend") {
		t.Fatalf("install: exit %d: %s%s", code, out, errs)
	}
	if code, out, errs := runCaptureCmd(t, "--netns", path, "--exclude-inbound-ports", "22", "--verify-only"); code != 0 {
		t.Fatalf("verify: exit %d: %s%s", code, out, errs)
	}
	if code, _, errs := runCaptureCmd(t, "--netns", path, "--verify-only"); code != 1 || !strings.Contains(errs, "missing rule") && !strings.Contains(errs, "unexpected rule") {
		t.Errorf("verify with other settings: exit %d: %s", code, errs)
	}
	if out, err := exec.Command("ip", "netns", "exec", name, "iptables-nft", "-t", "nat", "-I", "OUTPUT", "1", "-j", "ACCEPT").CombinedOutput(); err != nil {
		t.Fatalf("tampering: %v: %s", err, out)
	}
	code, _, errs := runCaptureCmd(t, "--netns", path, "--exclude-inbound-ports", "22", "--verify-only")
	if code != 1 || !strings.Contains(errs, "IPv4 nat: unexpected rule: -A OUTPUT -j ACCEPT") {
		t.Errorf("verify after tampering: exit %d: %s", code, errs)
	}
	if code, out, errs := runCaptureCmd(t, "--netns", path, "--exclude-inbound-ports", "22"); code != 0 || !strings.Contains(errs, "replacing a rule the capture did not write") {
		t.Errorf("reinstall: exit %d: %s%s", code, out, errs)
	}
}
