package capture

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenConfigs are the configurations whose payloads are kept in testdata/<name>.ipv4 and
// .ipv6. They are also installed for real by TestGoldenPayloadsRoundTrip.
var goldenConfigs = map[string]Config{
	"default": {},
	"exclusions": {
		ExcludeInboundPorts:  []uint16{8443, 22, 22},
		ExcludeOutboundPorts: []uint16{3306},
		ExcludeOutboundCIDRs: []netip.Prefix{
			netip.MustParsePrefix("192.0.2.7/24"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("198.51.100.1/32"),
		},
	},
	"uid-only":   {ProxyMark: -1},
	"mark-only":  {ProxyUID: -1, ProxyGID: -1},
	"many-ports": {ExcludeInboundPorts: portRange(20000, 20017), ProxyPorts: []uint16{15090, 15020}},
}

func portRange(from, to uint16) []uint16 {
	var out []uint16
	for p := from; p <= to; p++ {
		out = append(out, p)
	}
	return out
}

func TestRulesGolden(t *testing.T) {
	for name, cfg := range goldenConfigs {
		for _, f := range []Family{IPv4, IPv6} {
			tables, err := Rules(cfg, f)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := Render(tables)
			path := filepath.Join("testdata", name+"."+strings.ToLower(f.String()))
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		}
	}
}

// TestGoldenFilesAreAllUsed fails on a golden file that no configuration produces.
func TestGoldenFilesAreAllUsed(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.ipv[46]")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		if _, ok := goldenConfigs[name]; !ok {
			t.Errorf("%s: no configuration produces it", f)
		}
	}
}

func TestRulesRenderParseRoundTrip(t *testing.T) {
	for name, cfg := range goldenConfigs {
		for _, f := range []Family{IPv4, IPv6} {
			tables, _ := Rules(cfg, f)
			parsed, err := Parse("# a comment\n" + Render(tables))
			if err != nil {
				t.Fatalf("%s %s: %v", name, f, err)
			}
			if diff := cmp.Diff(tables, parsed); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", name, f, diff)
			}
			if p := compare(f, tables, parsed); p != nil {
				t.Errorf("%s %s: %v", name, f, p)
			}
		}
	}
}

// Every redirect must come after the proxy's exemption and the loopback return, or the
// proxy's own connections would loop back into it.
func TestProxyExemptionPrecedesRedirect(t *testing.T) {
	for _, f := range []Family{IPv4, IPv6} {
		tables, _ := Rules(Config{}, f)
		nat, _ := findTable(tables, "nat")
		out := nat.chainRules()[chainOutput]
		exempt, redirect := -1, -1
		for i, r := range out {
			if strings.HasSuffix(r, "-m mark --mark 0x539 -j RETURN") && exempt < 0 {
				exempt = i
			}
			if strings.Contains(r, "REDIRECT") {
				redirect = i
			}
		}
		if exempt < 0 || redirect < exempt || redirect != len(out)-1 {
			t.Errorf("%s: exemption at %d, redirect at %d of %d:\n%s", f, exempt, redirect, len(out), strings.Join(out, "\n"))
		}
	}
}
