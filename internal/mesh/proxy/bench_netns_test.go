package proxy_test

import (
	"io"
	"net"
	"testing"
	"time"
)

// Benchmarks on real namespaces: a small request/response on one kept-alive connection, and
// bulk throughput, directly and through the two proxies (client → outbound proxy → mTLS →
// inbound proxy → server). The difference is the latency the mesh adds. Allocations are those
// of the benchmark's process, proxies included.

func benchPods(b *testing.B, meshed bool) (net.Conn, func()) {
	m := newMesh(b)
	opts := podOptions{logAllowedEvery: 1 << 30}
	if !meshed {
		opts.noProxy = true
	}
	client := m.addPod("client", "bench", opts)
	server := m.addPod("server", "bench", opts)
	c, err := client.dialApp(server)
	if err != nil {
		b.Fatal(err)
	}
	return c, func() { c.Close() }
}

func benchRoundTrip(b *testing.B, meshed bool) {
	c, done := benchPods(b, meshed)
	defer done()
	msg := make([]byte, 128)
	buf := make([]byte, 128)
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRoundTripDirect(b *testing.B)     { benchRoundTrip(b, false) }
func BenchmarkRoundTripTwoProxies(b *testing.B) { benchRoundTrip(b, true) }

func benchBulk(b *testing.B, meshed bool) {
	c, done := benchPods(b, meshed)
	defer done()
	chunk := make([]byte, 256<<10)
	c.SetDeadline(time.Now().Add(10 * time.Minute))
	go io.Copy(io.Discard, c)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBulkDirect(b *testing.B)     { benchBulk(b, false) }
func BenchmarkBulkTwoProxies(b *testing.B) { benchBulk(b, true) }
