package ca

import (
	"errors"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestWorkloadID(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("cluster.local")
	tests := []struct {
		ns, sa string
		want   string // "" means refused
	}{
		{"payments", "api", "spiffe://cluster.local/ns/payments/sa/api"},
		{"a", "b", "spiffe://cluster.local/ns/a/sa/b"},
		{"kube-system", "system.node.x", "spiffe://cluster.local/ns/kube-system/sa/system.node.x"},
		{strings.Repeat("a", 63), "x", "spiffe://cluster.local/ns/" + strings.Repeat("a", 63) + "/sa/x"},
		{strings.Repeat("a", 64), "x", ""},
		{"ns", strings.Repeat("a", 253), "spiffe://cluster.local/ns/ns/sa/" + strings.Repeat("a", 253)},
		{"ns", strings.Repeat("a", 254), ""},
		{"", "sa", ""},
		{"ns", "", ""},
		{"..", "sa", ""},
		{"ns", "..", ""},
		{"ns", ".", ""},
		{"ns", "a..b", ""},
		{"ns", "../../admin", ""},
		{"ns/sa/x", "sa", ""},
		{"ns", "sa/x", ""},
		{"ns", "sa%2fx", ""},
		{"Payments", "api", ""},
		{"ns", "API", ""},
		{"-ns", "sa", ""},
		{"ns-", "sa", ""},
		{"ns", "sa.", ""},
		{"ns", ".sa", ""},
		{"n s", "sa", ""},
		{"ns", "sa\x00", ""},
		{"ns", "sä", ""},
		{"ns.dotted", "sa", ""},
	}
	for _, tt := range tests {
		id, err := WorkloadID(td, tt.ns, tt.sa)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("WorkloadID(%q, %q) = %v, %v; want ErrInvalidName", tt.ns, tt.sa, id, err)
			}
			continue
		}
		if err != nil || id.String() != tt.want {
			t.Errorf("WorkloadID(%q, %q) = %v, %v; want %s", tt.ns, tt.sa, id, err, tt.want)
		}
	}
}

// TestNamesAgreeWithApimachinery checks the hand-written validators against Kubernetes' own.
func TestNamesAgreeWithApimachinery(t *testing.T) {
	inputs := []string{"", "a", "a-b", "-a", "a-", "a.b", "a..b", ".a", "a.", "A", "a_b", "0", "a/b", "..",
		strings.Repeat("x", 63), strings.Repeat("x", 64), strings.Repeat("x", 253), strings.Repeat("x", 254),
		strings.Repeat("x", 70) + ".y", "1.2.3.4", "xn--bcher-kva", "a\nb"}
	for _, s := range inputs {
		if got, want := isDNS1123Label(s), len(validation.IsDNS1123Label(s)) == 0; got != want {
			t.Errorf("isDNS1123Label(%q) = %v, apimachinery %v", s, got, want)
		}
		if got, want := isDNS1123Subdomain(s), len(validation.IsDNS1123Subdomain(s)) == 0; got != want {
			t.Errorf("isDNS1123Subdomain(%q) = %v, apimachinery %v", s, got, want)
		}
	}
}

func FuzzNames(f *testing.F) {
	for _, s := range []string{"a", "a.b", "..", "a-", "x/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isDNS1123Label(s), len(validation.IsDNS1123Label(s)) == 0; got != want {
			t.Errorf("isDNS1123Label(%q) = %v, apimachinery %v", s, got, want)
		}
		if got, want := isDNS1123Subdomain(s), len(validation.IsDNS1123Subdomain(s)) == 0; got != want {
			t.Errorf("isDNS1123Subdomain(%q) = %v, apimachinery %v", s, got, want)
		}
	})
}
