package proxy_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// metricValue sums the samples of a metric family whose labels include want.
func metricValue(t *testing.T, p *pod, name string, want map[string]string) float64 {
	t.Helper()
	families, err := p.proxy.Registry().Gather()
	must(t, err)
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, want) {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	found := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			found++
		}
	}
	return found == len(want)
}

// TestMetricsCountConnectionsBytesAndDecisions: after one allowed and one refused connection
// the metrics say so, and the endpoint is read-only.
func TestMetricsCountConnectionsBytesAndDecisions(t *testing.T) {
	m := newMesh(t)
	client := m.addPod("frontend", "shop", podOptions{})
	other := m.addPod("other", "shop", podOptions{})
	server := m.addPod("backend", "shop", podOptions{policy: onlyFrom(client.id.String())})

	// Two connections: the second resumes the TLS session of the first.
	for i := 0; i < 2; i++ {
		c, err := client.dialApp(server)
		must(t, err)
		must(t, roundTrip(c, []byte(strings.Repeat("x", 1000))))
		c.Close()
		waitUntil(t, "the connection to close", func() bool {
			return metricValue(t, client, "outrider_proxy_connections_open", nil) == 0
		})
	}
	c, err := other.dialApp(server)
	expectRefused(t, c, err)
	server.logs.waitFor(t, "connection denied", map[string]any{"peer": other.id})
	// The allowed connection's byte counts land when it closes.
	waitUntil(t, "the allowed connection is closed", func() bool {
		return metricValue(t, server, "outrider_proxy_connections_open", nil) == 0 &&
			metricValue(t, client, "outrider_proxy_connections_open", nil) == 0
	})

	checks := []struct {
		p      *pod
		name   string
		labels map[string]string
		min    float64
	}{
		{server, "outrider_proxy_connections_total", map[string]string{"direction": "inbound"}, 3},
		{client, "outrider_proxy_connections_total", map[string]string{"direction": "outbound"}, 1},
		{server, "outrider_proxy_authorization_decisions_total", map[string]string{"level": "connection", "result": "allow", "rule": "shop/backend#0"}, 2},
		{server, "outrider_proxy_authorization_decisions_total", map[string]string{"level": "connection", "result": "deny", "reason": "no-rule-matched"}, 1},
		{server, "outrider_proxy_bytes_total", map[string]string{"direction": "inbound", "from": "downstream"}, 1000},
		{server, "outrider_proxy_bytes_total", map[string]string{"direction": "inbound", "from": "upstream"}, 1000},
		{client, "outrider_proxy_outbound_connections_total", map[string]string{"kind": "mesh"}, 2},
		{client, "outrider_proxy_tls_handshake_duration_seconds", map[string]string{"direction": "outbound"}, 1},
		{server, "outrider_proxy_tls_handshakes_total", map[string]string{"direction": "inbound", "result": "ok"}, 3},
		{client, "outrider_proxy_tls_handshakes_total", map[string]string{"direction": "outbound", "result": "ok", "resumed": "true"}, 1},
		{server, "outrider_proxy_tls_handshakes_total", map[string]string{"direction": "inbound", "result": "ok", "resumed": "true"}, 1},
		{server, "outrider_proxy_certificate_expiry_timestamp_seconds", nil, 1},
	}
	for _, ck := range checks {
		if v := metricValue(t, ck.p, ck.name, ck.labels); v < ck.min {
			t.Errorf("%s%v = %v, want at least %v", ck.name, ck.labels, v, ck.min)
		}
	}

	h := server.proxy.MetricsHandler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || !strings.Contains(string(body), "outrider_proxy_connections_total") {
		t.Errorf("GET /metrics = %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/metrics", nil))
	if rec.Code != 405 {
		t.Errorf("POST /metrics = %d, want 405", rec.Code)
	}
}
