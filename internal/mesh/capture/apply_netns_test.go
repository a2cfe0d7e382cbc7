package capture

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// saveAll reads every family's tables from the backend.
func saveAll(t *testing.T, path string, b Backend) map[Family][]Table {
	t.Helper()
	r, err := newRunner(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	out := make(map[Family][]Table)
	for _, f := range families() {
		if out[f], err = r.save(testContext(t), b, f); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestApplyTwiceIsIdempotent: an init container runs again when its pod restarts; the second
// run must leave exactly the rules of the first, and find nothing to replace.
func TestApplyTwiceIsIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		path := newNamespace(t)
		cfg := goldenConfigs["exclusions"]
		first, err := Apply(testContext(t), cfg, Options{NetNS: path, Backend: b})
		if err != nil {
			t.Fatal(err)
		}
		once := saveAll(t, path, b)
		second, err := Apply(testContext(t), cfg, Options{NetNS: path})
		if err != nil {
			t.Fatal(err)
		}
		if second.Backend != b || len(second.Replaced) != 0 || second.Rules != first.Rules {
			t.Errorf("second run: %+v, first: %+v", second, first)
		}
		if diff := cmp.Diff(once, saveAll(t, path, b)); diff != "" {
			t.Errorf("rules after the second run (-first +second):\n%s", diff)
		}
	})
}

// TestBrokenPayloadLeavesPreviousState: a payload that fails half-way (its filter table is
// fine, its nat table is not; or IPv4 is fine and IPv6 is not) leaves every table as it was.
// The legacy backend commits table by table, so this is Apply's rollback at work.
func TestBrokenPayloadLeavesPreviousState(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		for _, start := range []string{"empty", "installed"} {
			path := newNamespace(t)
			if start == "installed" {
				if _, err := Apply(testContext(t), Config{}, Options{NetNS: path, Backend: b}); err != nil {
					t.Fatal(err)
				}
			}
			before := saveAll(t, path, b)
			good := make(map[Family]string)
			for _, f := range families() {
				tables, _ := Rules(goldenConfigs["exclusions"], f)
				good[f] = Render(tables)
			}
			brokenNAT := strings.Replace(good[IPv4], "-j REDIRECT --to-ports 15001", "-j NO_SUCH_TARGET", 1)
			for name, payloads := range map[string]map[Family]string{
				"nat table broken": {IPv4: brokenNAT, IPv6: good[IPv6]},
				"IPv6 broken":      {IPv4: good[IPv4], IPv6: good[IPv6] + "-A OUTPUT -j NO_SUCH_TARGET\n"},
			} {
				r, err := newRunner(path)
				if err != nil {
					t.Fatal(err)
				}
				err = r.install(testContext(t), b, families(), payloads, before, discard)
				r.close()
				if err == nil || !strings.Contains(err.Error(), "previous rules were restored") {
					t.Errorf("%s, %s: got %v", start, name, err)
				}
				after := saveAll(t, path, b)
				for _, f := range families() {
					for _, tname := range OwnedTables {
						// A table that does not exist and an empty one do the same.
						w, ok := findTable(before[f], tname)
						if !ok {
							w = emptyTable(tname)
						}
						g, ok := findTable(after[f], tname)
						if !ok {
							g = emptyTable(tname)
						}
						if p := compare(f, []Table{w}, []Table{g}); p != nil {
							t.Errorf("%s, %s: not restored:\n%s", start, name, strings.Join(p, "\n"))
						}
					}
				}
			}
		}
	})
}

// TestVerifyDetectsTamperedRules: whatever changes the rules after Apply, Verify (and so the
// node agent) reports it.
func TestVerifyDetectsTamperedRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		ipt, ip6t := "iptables-"+string(b), "ip6tables-"+string(b)
		tests := []struct {
			name string
			cmds [][]string
			want string
		}{
			{"an ACCEPT before the redirect", [][]string{{ipt, "-t", "nat", "-I", "OUTPUT", "1", "-p", "tcp", "-j", "ACCEPT"}},
				"IPv4 nat: unexpected rule: -A OUTPUT -p tcp -j ACCEPT"},
			{"the private ports opened", [][]string{{ipt, "-t", "filter", "-D", chainOutput, "2"}},
				"IPv4 filter: missing rule: -A OUTRIDER_OUTPUT -p tcp -m multiport --dports 15001,15006,15090"},
			{"the app's packets marked in mangle", [][]string{{ipt, "-t", "mangle", "-A", "OUTPUT", "-j", "MARK", "--set-xmark", "0x539/0xffffffff"}},
				"IPv4 mangle: unexpected rule: -A OUTPUT -j MARK --set-xmark 0x539/0xffffffff"},
			{"the app's packets untracked in raw", [][]string{{ipt, "-t", "raw", "-A", "OUTPUT", "-j", "CT", "--notrack"}},
				"IPv4 raw: unexpected rule: -A OUTPUT -j CT --notrack"},
			{"IPv6 flushed", [][]string{{ip6t, "-t", "nat", "-F", chainOutput}},
				"IPv6 nat: missing rule: -A OUTRIDER_OUTPUT -p tcp -j REDIRECT --to-ports 15001"},
			{"rules reordered", [][]string{
				{ipt, "-t", "nat", "-D", chainOutput, "-o", "lo", "-j", "RETURN"},
				{ipt, "-t", "nat", "-A", chainOutput, "-o", "lo", "-j", "RETURN"}},
				"IPv4 nat: the rules of chain OUTRIDER_OUTPUT are out of order"},
			{"a policy changed", [][]string{{ipt, "-t", "filter", "-P", "INPUT", "DROP"}},
				"IPv4 filter: chain INPUT has policy DROP, want ACCEPT"},
			{"a chain added", [][]string{{ipt, "-t", "nat", "-N", "SIDE"}},
				"IPv4 nat: unexpected chain SIDE"},
			{"rules in the other backend", [][]string{{"iptables-" + string(b.other()), "-t", "nat", "-A", "OUTPUT", "-j", "RETURN"}},
				"IPv4 " + string(b.other()) + " backend nat: unexpected rule: -A OUTPUT -j RETURN"},
		}
		for _, tt := range tests {
			path := newNamespace(t)
			if _, err := Apply(testContext(t), Config{}, Options{NetNS: path, Backend: b}); err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(testContext(t), Config{}, Options{NetNS: path, Backend: b}); err != nil {
				t.Fatalf("%s: before tampering: %v", tt.name, err)
			}
			for _, c := range tt.cmds {
				nsRun(t, path, "", c[0], c[1:]...)
			}
			_, err := Verify(testContext(t), Config{}, Options{NetNS: path, Backend: b})
			var mm *MismatchError
			if !errors.As(err, &mm) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: got %v, want a mismatch with %q", tt.name, err, tt.want)
			}
		}
	})
}

// TestApplyRefusesRulesAroundTheCapture: rules that Apply does not own (in mangle or raw, or in
// the other backend) could take packets around the capture; Apply refuses them and changes
// nothing. Rules in the tables it owns are replaced and reported.
func TestApplyRefusesRulesAroundTheCapture(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend) {
		path := newNamespace(t)
		nsRun(t, path, "", "iptables-"+string(b), "-t", "mangle", "-A", "OUTPUT", "-j", "MARK", "--set-xmark", "0x539/0xffffffff")
		_, err := Apply(testContext(t), Config{}, Options{NetNS: path, Backend: b})
		if err == nil || !strings.Contains(err.Error(), "nothing was changed") || !strings.Contains(err.Error(), "IPv4 mangle: unexpected rule") {
			t.Fatalf("got %v", err)
		}
		for f, tables := range saveAll(t, path, b) {
			for _, tb := range tables {
				if (tb.Name == "nat" || tb.Name == "filter") && !tb.empty() {
					t.Errorf("%s %s changed: %v", f, tb.Name, tb.Rules)
				}
			}
		}

		path = newNamespace(t)
		nsRun(t, path, "", "iptables-"+string(b), "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-j", "ACCEPT")
		res, err := Apply(testContext(t), Config{}, Options{NetNS: path, Backend: b})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"IPv4 nat: -A OUTPUT -p tcp -j ACCEPT"}; !cmp.Equal(res.Replaced, want) {
			t.Errorf("replaced %q, want %q", res.Replaced, want)
		}
	})
}

// TestBackendDetection: the backend that holds rules is chosen; nf_tables when none does;
// rules in both are refused, since both would run.
func TestBackendDetection(t *testing.T) {
	path := newNamespace(t)
	ctx := testContext(t)
	if b, err := DetectBackend(ctx, path); err != nil || b != BackendNFT {
		t.Errorf("empty namespace: %q, %v; want nft", b, err)
	}
	if _, err := Apply(ctx, Config{}, Options{NetNS: path, Backend: BackendLegacy}); err != nil {
		t.Fatal(err)
	}
	if b, err := DetectBackend(ctx, path); err != nil || b != BackendLegacy {
		t.Errorf("after a legacy capture: %q, %v; want legacy", b, err)
	}
	if res, err := Verify(ctx, Config{}, Options{NetNS: path}); err != nil || res.Backend != BackendLegacy {
		t.Errorf("verify with detection: %+v, %v", res, err)
	}
	nsRun(t, path, "", "iptables-nft", "-t", "nat", "-A", "OUTPUT", "-j", "RETURN")
	if b, err := DetectBackend(ctx, path); err == nil || !strings.Contains(err.Error(), "both iptables backends hold rules") {
		t.Errorf("rules in both: %q, %v", b, err)
	}
	if _, err := Apply(ctx, Config{}, Options{NetNS: path}); err == nil {
		t.Error("Apply chose a backend while both hold rules")
	}
}
