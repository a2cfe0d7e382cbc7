package proxy

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrider-sec/outrider/internal/mesh/authz"
)

// Directions label metrics and logs.
const (
	inbound  = "inbound"
	outbound = "outbound"
)

// metrics are the proxy's Prometheus metrics. Label values come from fixed sets, except rule,
// which is bounded by the pushed policy (authz.MaxRules).
type metrics struct {
	connections   *prometheus.CounterVec
	open          *prometheus.GaugeVec
	bytes         *prometheus.CounterVec
	decisions     *prometheus.CounterVec
	outboundKinds *prometheus.CounterVec
	handshakes    *prometheus.CounterVec
	handshakeTime *prometheus.HistogramVec
	certExpiry    prometheus.Gauge
	revoked       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outrider_proxy_connections_total",
			Help: "Connections accepted, by direction.",
		}, []string{"direction"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "outrider_proxy_connections_open",
			Help: "Connections being forwarded, by direction.",
		}, []string{"direction"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outrider_proxy_bytes_total",
			Help: "Bytes forwarded, by direction and by the side that sent them (downstream: the client, upstream: the server).",
		}, []string{"direction", "from"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outrider_proxy_authorization_decisions_total",
			Help: "Inbound authorization decisions, by level (connection or request), result, rule and reason.",
		}, []string{"level", "result", "rule", "reason"}),
		outboundKinds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outrider_proxy_outbound_connections_total",
			Help: "Outbound connections by how they were handled: mesh (mutual TLS), passthrough, refused (egress deny), failed.",
		}, []string{"kind"}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outrider_proxy_tls_handshakes_total",
			Help: "Mutual TLS handshakes, by direction, result and whether the session was resumed.",
		}, []string{"direction", "result", "resumed"}),
		handshakeTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "outrider_proxy_tls_handshake_duration_seconds",
			Help:    "Duration of successful mutual TLS handshakes, by direction.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"direction"}),
		certExpiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outrider_proxy_certificate_expiry_timestamp_seconds",
			Help: "When the proxy's current certificate expires (Unix time).",
		}),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outrider_proxy_connections_revoked_total",
			Help: "Open inbound connections closed because a new policy no longer allows them.",
		}),
	}
	for _, c := range []prometheus.Collector{m.connections, m.open, m.bytes, m.decisions, m.outboundKinds, m.handshakes, m.handshakeTime, m.certExpiry, m.revoked} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) byteCounters(direction string) byteCounters {
	return byteCounters{
		fromDownstream: m.bytes.WithLabelValues(direction, "downstream"),
		fromUpstream:   m.bytes.WithLabelValues(direction, "upstream"),
	}
}

func (m *metrics) decision(level string, d authz.Decision) {
	result := "deny"
	switch {
	case d.Allowed:
		result = "allow"
	case d.NeedsHTTP:
		result = "inspect" // the connection proceeds; each request is decided on its own
	}
	m.decisions.WithLabelValues(level, result, d.Rule, string(d.Reason)).Inc()
}

func (m *metrics) handshake(direction string, start time.Time, resumed bool, err error) {
	r := "false"
	if resumed {
		r = "true"
	}
	if err != nil {
		m.handshakes.WithLabelValues(direction, "failed", r).Inc()
		return
	}
	m.handshakes.WithLabelValues(direction, "ok", r).Inc()
	m.handshakeTime.WithLabelValues(direction).Observe(time.Since(start).Seconds())
}
