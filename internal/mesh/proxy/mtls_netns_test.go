package proxy_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"strings"
	"testing"

	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// onlyFrom is a policy that lets principals reach the application port and nothing else.
func onlyFrom(principals ...string) *authz.Policy {
	return &authz.Policy{Rules: []authz.Rule{{Name: "shop/backend#0", Ports: []uint16{appPort}, Principals: principals}}}
}

// TestAllowedClientRoundTripsLargePayload sends 16 MiB through client app → client proxy
// (outbound, mTLS) → server proxy (inbound, authorized) → server app and back, and checks the
// echo bit for bit. The application sees the connection coming from its own proxy.
func TestAllowedClientRoundTripsLargePayload(t *testing.T) {
	m := newMesh(t)
	client := m.addPod("frontend", "shop", podOptions{})
	server := m.addPod("backend", "shop", podOptions{policy: onlyFrom(client.id.String())})

	c, err := client.dialApp(server)
	must(t, err)
	defer c.Close()
	payload := make([]byte, 16<<20)
	rand.Read(payload)
	want := sha256.Sum256(payload)
	go func() {
		c.Write(payload)
		c.(interface{ CloseWrite() error }).CloseWrite()
	}()
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil {
		t.Fatalf("reading the echo after %d bytes: %v", n, err)
	}
	if n != int64(len(payload)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("echo: %d bytes, checksum mismatch=%v; want %d bytes intact", n, !bytes.Equal(h.Sum(nil), want[:]), len(payload))
	}
	for _, r := range server.app.clients() {
		if !strings.HasPrefix(r, "127.0.0.1:") {
			t.Errorf("the application saw a connection from %s, want its proxy on 127.0.0.1", r)
		}
	}
	server.logs.waitFor(t, "connection allowed", map[string]any{"peer": client.id, "local": server.id, "port": appPort, "rule": "shop/backend#0"})
}

// TestClientWithAnotherIdentityIsRefused: a meshed client whose identity the policy does not
// name gets no data, and the server's proxy logs the refusal with both identities.
func TestClientWithAnotherIdentityIsRefused(t *testing.T) {
	m := newMesh(t)
	frontend := m.addPod("frontend", "shop", podOptions{})
	other := m.addPod("other", "shop", podOptions{})
	server := m.addPod("backend", "shop", podOptions{policy: onlyFrom(frontend.id.String())})

	c, err := other.dialApp(server)
	expectRefused(t, c, err)
	server.logs.waitFor(t, "connection denied", map[string]any{
		"peer": other.id, "local": server.id, "port": appPort, "reason": authz.ReasonNoRuleMatched, "direction": "inbound"})

	// The allowed identity still gets through on the same server.
	c, err = frontend.dialApp(server)
	must(t, err)
	defer c.Close()
	must(t, roundTrip(c, []byte("hello from frontend")))
}
