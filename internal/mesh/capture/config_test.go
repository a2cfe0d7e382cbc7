package capture

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultsComeFromTheProxy(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{InboundPort: 15006, OutboundPort: 15001, ProxyPorts: []uint16{15090},
		ProxyUID: 1337, ProxyGID: 1337, ProxyMark: 0x539}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := c.privatePorts(); !cmp.Equal(got, []uint16{15001, 15006, 15090}) {
		t.Errorf("private ports %v", got)
	}
}

func TestConfigRefusesWeakOrBrokenSettings(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"nothing identifies the proxy", Config{ProxyUID: -1, ProxyMark: -1}, "its UID, its mark or both"},
		{"a group alone", Config{ProxyUID: -1, ProxyGID: 1337, ProxyMark: -1}, "a group alone is too weak"},
		{"same ports", Config{InboundPort: 15001}, "must differ"},
		{"uid out of range", Config{ProxyUID: -2}, "out of range"},
		{"mark out of range", Config{ProxyMark: 1 << 32}, "out of range"},
		{"port 0", Config{ExcludeInboundPorts: []uint16{0}}, "port 0"},
		{"mapped prefix", Config{ExcludeOutboundCIDRs: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}}, "want an IPv4 or IPv6 prefix"},
		{"invalid prefix", Config{ExcludeOutboundCIDRs: []netip.Prefix{{}}}, "want an IPv4 or IPv6 prefix"},
	}
	for _, tt := range tests {
		if _, err := tt.cfg.withDefaults(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error with %q", tt.name, err, tt.want)
		}
		if _, err := Rules(tt.cfg, IPv4); err == nil {
			t.Errorf("%s: Rules accepted it", tt.name)
		}
	}
}

func TestConfigNormalizes(t *testing.T) {
	c, err := Config{
		ExcludeOutboundPorts: []uint16{443, 80, 443},
		ExcludeOutboundCIDRs: []netip.Prefix{netip.MustParsePrefix("192.0.2.9/24"), netip.MustParsePrefix("192.0.2.0/24")},
	}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(c.ExcludeOutboundPorts, []uint16{80, 443}) {
		t.Errorf("ports %v", c.ExcludeOutboundPorts)
	}
	if len(c.ExcludeOutboundCIDRs) != 1 || c.ExcludeOutboundCIDRs[0].String() != "192.0.2.0/24" {
		t.Errorf("prefixes %v", c.ExcludeOutboundCIDRs)
	}
}
