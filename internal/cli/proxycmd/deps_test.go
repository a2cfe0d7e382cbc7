package proxycmd

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the sidecar binary free of the control plane: every meshed pod runs it,
// and whatever it links costs memory in each of them (the file pages of the binary that the
// runtime and package initialisers touch, and the heap those initialisers leave). It lists the
// dependencies of this package and of cmd/outrider-proxy with `go list -deps`, as tailscale's
// deptest does.
func TestDependencies(t *testing.T) {
	forbidden := []string{
		"k8s.io/", "sigs.k8s.io/", "helm.sh/",
		"github.com/google/cel-go/", "github.com/google/go-containerregistry/", "github.com/sigstore/",
		"github.com/outrider-sec/outrider/internal/policy",
		"github.com/outrider-sec/outrider/internal/mesh/inject",
		"github.com/outrider-sec/outrider/internal/admission",
	}
	const self = "github.com/outrider-sec/outrider/internal/cli"
	for _, tc := range []struct {
		pkg, tags string
		forbidden []string
	}{
		{pkg: self + "/proxycmd"},
		{pkg: "github.com/outrider-sec/outrider/cmd/outrider-proxy"},
		// As `make build` builds the sidecar (the Makefile's PROXY_TAGS): without gRPC's tracing
		// pages and the html/template they bring.
		{pkg: "github.com/outrider-sec/outrider/cmd/outrider-proxy", tags: "grpcnotrace",
			forbidden: []string{"golang.org/x/net/trace", "html/template"}},
	} {
		out, err := exec.Command("go", "list", "-deps", "-tags", tc.tags, tc.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps -tags %q %s: %v", tc.tags, tc.pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed %d packages: %q", tc.pkg, len(deps), deps)
		}
		for _, dep := range deps {
			bad := dep == self // the outrider command tree, with every control-plane command
			for _, prefix := range append(forbidden, tc.forbidden...) {
				bad = bad || strings.HasPrefix(dep, prefix)
			}
			if bad {
				t.Errorf("%s (tags %q) depends on %s", tc.pkg, tc.tags, dep)
			}
		}
	}
}
