package server

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the identity service.
type metrics struct {
	issued      prometheus.Counter
	refused     *prometheus.CounterVec
	streams     prometheus.Gauge
	pushes      prometheus.Counter
	sendSeconds prometheus.Histogram
}

// newMetrics creates the metrics and registers them with reg (nil: not registered).
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		issued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outrider_identity_certificates_issued_total", Help: "Workload certificates issued.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outrider_identity_requests_refused_total", Help: "IssueCertificate and Watch requests refused, by gRPC code.",
		}, []string{"code"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outrider_identity_watch_streams", Help: "Open Watch streams (subscribed proxies).",
		}),
		pushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outrider_identity_pushes_total", Help: "Watch messages sent to proxies.",
		}),
		sendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "outrider_identity_push_send_seconds", Help: "Time to hand one Watch message to gRPC.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.issued, m.refused, m.streams, m.pushes, m.sendSeconds)
	}
	return m
}
