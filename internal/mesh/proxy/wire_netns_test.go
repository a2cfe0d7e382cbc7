package proxy_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/outrider-sec/outrider/internal/mesh/proxy"
)

// TestBridgeCarriesOnlyTLS captures what crosses the client's link to the bridge while the
// client's application sends a marker to a meshed server and to a server outside the mesh.
// The marker must never appear on the mesh connection, which must be TLS from its first byte
// and offer the mesh's ALPN; it must appear on the plain-text egress connection, which proves
// the capture sees payloads at all.
func TestBridgeCarriesOnlyTLS(t *testing.T) {
	m := newMesh(t)
	outside := m.addPod("outside", "web", podOptions{noProxy: true})
	client := m.addPod("frontend", "shop", podOptions{})
	server := m.addPod("backend", "shop", podOptions{policy: onlyFrom(client.id.String())})

	var r [8]byte
	rand.Read(r[:])
	marker := []byte("OUTRIDER-PLAINTEXT-MARKER-" + hex.EncodeToString(r[:]))
	capture := m.net.CaptureAt(client.Node)

	for _, target := range []*pod{server, outside} {
		c, err := client.dialApp(target)
		must(t, err)
		for i := 0; i < 20; i++ {
			must(t, roundTrip(c, bytes.Repeat(marker, 1+i*50)))
		}
		c.Close()
	}
	if err := capture.Stop(); err != nil {
		t.Fatal(err)
	}

	streams := capture.Streams()
	sawMesh, sawEgress := false, false
	for f, payload := range streams {
		switch {
		case f.Dst.Addr() == server.Addr && f.Dst.Port() == appPort:
			sawMesh = true
			if !bytes.HasPrefix(payload, []byte{0x16, 0x03}) || !bytes.Contains(payload[:min(len(payload), 2048)], []byte(proxy.ALPN)) {
				t.Errorf("client→server flow %v does not open with a mesh ClientHello: % x", f, payload[:min(len(payload), 16)])
			}
		case f.Dst.Addr() == outside.Addr:
			sawEgress = true
		}
		if bytes.Contains(payload, marker) && f.Dst.Addr() != outside.Addr && f.Src.Addr() != outside.Addr {
			t.Errorf("plain-text marker seen on mesh flow %v", f)
		}
	}
	if !sawMesh || !sawEgress {
		t.Fatalf("capture saw mesh=%v egress=%v flows (want both): %d frames, flows %v", sawMesh, sawEgress, capture.Frames(), keys(streams))
	}
	if len(capture.Find(marker)) == 0 {
		t.Fatal("the marker was not seen even on the plain-text egress flow: the capture is blind")
	}
}
