package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/cli/proxycmd"
)

// TestProxyBinaryIsOutriderProxy: `outrider-proxy [flags]` (the injected sidecar's binary) is
// `outrider proxy [flags]`: the same help and flags under its own name, and the same usage errors.
func TestProxyBinaryIsOutriderProxy(t *testing.T) {
	run := func(binary bool, args ...string) (code int, out, errOut string) {
		var o, e bytes.Buffer
		s := command.Streams{In: strings.NewReader(""), Out: &o, Err: &e}
		if binary {
			code = command.Execute(context.Background(), proxycmd.NewRoot(s), args, s)
		} else {
			code = Execute(context.Background(), append([]string{"proxy"}, args...), s)
		}
		return code, o.String(), e.String()
	}
	code, help, _ := run(false, "--help")
	binCode, binHelp, _ := run(true, "--help")
	if code != 0 || binCode != 0 || !strings.Contains(help, "Usage:\n  outrider proxy [flags]") {
		t.Fatalf("--help: exit %d and %d; outrider proxy --help:\n%s", code, binCode, help)
	}
	want := strings.NewReplacer("outrider proxy", proxycmd.BinaryName, "help for proxy", "help for "+proxycmd.BinaryName).Replace(help)
	if diff := cmp.Diff(want, binHelp); diff != "" {
		t.Errorf("outrider-proxy --help differs from outrider proxy --help (-want +got):\n%s", diff)
	}

	for _, args := range [][]string{{"--mark", "0"}, {"--nope"}, {"extra"}} {
		code, _, errOut := run(false, args...)
		binCode, _, binErr := run(true, args...)
		if code != 2 || binCode != 2 || !strings.HasPrefix(binErr, proxycmd.BinaryName+": ") ||
			strings.TrimPrefix(binErr, proxycmd.BinaryName) != strings.Replace(strings.TrimPrefix(errOut, "outrider"), "outrider proxy", proxycmd.BinaryName, 1) {
			t.Errorf("%v: outrider proxy exits %d (%q), outrider-proxy %d (%q); want 2 and the same message", args, code, errOut, binCode, binErr)
		}
	}
}
