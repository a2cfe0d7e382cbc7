package capture

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// applyWithCaps runs Apply in a helper process in the namespace at path, as root with only
// the given capabilities (setpriv's syntax: "+net_admin,+net_raw"), as the init container runs.
func applyWithCaps(t *testing.T, path, caps string) helperResult {
	t.Helper()
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("this test needs setpriv (package util-linux): %v", err)
	}
	r, err := newRunner(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	cmd := exec.Command("setpriv", "--inh-caps=-all", "--bounding-set=-all,"+caps, helperBinary(t), "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=apply")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := r.ns.Do(cmd.Run); err != nil {
		t.Fatalf("helper apply with %s: %v: %s", caps, err, errb.String())
	}
	var res helperResult
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("helper apply with %s: %v: %q", caps, err, out.String())
	}
	return res
}

// TestInitContainerNeedsOnlyNetAdminAndNetRaw: the capture works as root with CAP_NET_ADMIN
// and CAP_NET_RAW and nothing else, with either backend. With CAP_NET_ADMIN alone it works
// with nf_tables, but it cannot read the legacy backend; when that backend holds rules, whose
// content it then cannot check, it refuses instead of leaving them unchecked.
func TestInitContainerNeedsOnlyNetAdminAndNetRaw(t *testing.T) {
	for _, b := range backends {
		path := newNamespace(t)
		if b == BackendLegacy {
			// A namespace already using the legacy backend makes detection choose it.
			nsRun(t, path, "", "iptables-legacy", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-j", "RETURN")
		}
		if res := applyWithCaps(t, path, "+net_admin,+net_raw"); res.Err != "" {
			t.Fatalf("%s backend, NET_ADMIN and NET_RAW: %s", b, res.Err)
		}
		if _, err := Verify(testContext(t), Config{}, Options{NetNS: path, Backend: b}); err != nil {
			t.Errorf("%s backend: %v", b, err)
		}
	}
	path := newNamespace(t)
	if res := applyWithCaps(t, path, "+net_admin"); res.Err != "" {
		t.Errorf("nft backend, NET_ADMIN alone: %s", res.Err)
	}
	nsRun(t, path, "", "iptables-legacy", "-t", "mangle", "-A", "OUTPUT", "-j", "RETURN")
	if res := applyWithCaps(t, path, "+net_admin"); !strings.Contains(res.Err, "legacy backend: cannot be read") {
		t.Errorf("NET_ADMIN alone, rules in the legacy backend: got %q", res.Err)
	}
	if res := applyWithCaps(t, newNamespace(t), "+net_raw"); res.Err == "" {
		t.Error("NET_RAW alone installed the rules")
	}
}
