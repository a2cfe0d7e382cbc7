package netnstest

import (
	"fmt"
	"os/exec"
	"strings"
)

// CaptureRules returns an iptables-restore payload that sends a pod's TCP through a sidecar
// the way a meshed pod's capture does: inbound TCP to inboundPort, the application's outbound
// TCP to outboundPort, except packets carrying mark (the proxy's own) and loopback traffic.
// It is the minimum the proxy tests need, not the product's capture rules.
func CaptureRules(inboundPort, outboundPort uint16, mark int) string {
	return fmt.Sprintf(`*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:ORTEST_INBOUND - [0:0]
:ORTEST_OUTBOUND - [0:0]
-A PREROUTING -p tcp -j ORTEST_INBOUND
-A ORTEST_INBOUND -p tcp -j REDIRECT --to-ports %d
-A OUTPUT -p tcp -j ORTEST_OUTBOUND
-A ORTEST_OUTBOUND -m mark --mark %#x -j RETURN
-A ORTEST_OUTBOUND -o lo -j RETURN
-A ORTEST_OUTBOUND -p tcp -j REDIRECT --to-ports %d
COMMIT
`, inboundPort, mark, outboundPort)
}

// IPTablesRestore installs rules in the node atomically with iptables-restore.
func (nd *Node) IPTablesRestore(rules string) {
	nd.net.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", nd.Name, "iptables-restore")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		nd.net.t.Fatalf("iptables-restore in %s: %v: %s\n%s", nd.Name, err, out, rules)
	}
}
