package proxy_test

import (
	"testing"

	"github.com/outrider-sec/outrider/internal/mesh/proxy"
	"github.com/outrider-sec/outrider/internal/policy"
)

// TestProxyIdentityIsTheOneAdmissionReserves: the capture rules exempt the proxy's UID and
// GID, and admission refuses exactly policy.ProxyUID/ProxyGID to application containers. The
// proxy keeps its own copy of the numbers (so it does not link the policy engine); this test
// keeps the two in step.
func TestProxyIdentityIsTheOneAdmissionReserves(t *testing.T) {
	if proxy.ProxyUID != policy.ProxyUID || proxy.ProxyGID != policy.ProxyGID {
		t.Fatalf("proxy runs as %d:%d, admission reserves %d:%d", proxy.ProxyUID, proxy.ProxyGID, policy.ProxyUID, policy.ProxyGID)
	}
}
