package registry

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Metrics are the Prometheus series of registry requests and of the caches. A nil *Metrics is
// valid everywhere and records nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	cache    *prometheus.CounterVec
}

// Request outcomes, the values of the outcome label of outrider_registry_requests_total.
const (
	OutcomeOK           = "ok"
	OutcomeNotFound     = "not_found"
	OutcomeUnauthorized = "unauthorized"
	OutcomeTimeout      = "timeout"
	OutcomeCanceled     = "canceled"
	OutcomeError        = "error"
)

// Cache results, the values of the result label of outrider_imagetrust_cache_requests_total.
const (
	CacheHit         = "hit"
	CacheMiss        = "miss"
	CacheCoalesced   = "coalesced"
	CacheNegativeHit = "negative_hit"
)

// NewMetrics creates the series and registers them with reg (not registered when reg is nil).
// Series already registered by an earlier call on the same registerer are reused, so two
// clients may share one registry.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outrider_registry_requests_total",
			Help: "HTTP requests to OCI registries, by registry (as named in image references), operation and outcome.",
		}, []string{"registry", "operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "outrider_registry_request_duration_seconds",
			Help:    "Time from sending a registry request to its response headers (or its failure).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 5},
		}, []string{"registry", "operation"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outrider_imagetrust_cache_requests_total",
			Help: "Lookups in image-trust caches: hit, miss (this lookup filled the entry), coalesced (waited for another lookup's fill) or negative_hit (a cached error).",
		}, []string{"cache", "result"}),
	}
	if reg != nil {
		m.requests = register(reg, m.requests)
		m.duration = register(reg, m.duration)
		m.cache = register(reg, m.cache)
	}
	return m
}

// register registers c, or returns the collector already registered under its name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A different collector holds the name: count into our unregistered copy
		// rather than fail the caller; nothing in the registry is changed.
	}
	return c
}

func (m *Metrics) observeRequest(registry, operation, outcome string, seconds float64) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(registry, operation, outcome).Inc()
	m.duration.WithLabelValues(registry, operation).Observe(seconds)
}

func (m *Metrics) observeCache(cache, result string) {
	if m == nil {
		return
	}
	m.cache.WithLabelValues(cache, result).Inc()
}

// RequestCount is the number of registry requests counted with these labels; an empty
// argument matches any value. It reads the counters without creating series, for tests and
// diagnostics.
func (m *Metrics) RequestCount(registry, operation, outcome string) float64 {
	if m == nil {
		return 0
	}
	return sum(m.requests, map[string]string{"registry": registry, "operation": operation, "outcome": outcome})
}

// CacheCount is the number of lookups in cache with this result; an empty argument matches any
// value.
func (m *Metrics) CacheCount(cache, result string) float64 {
	if m == nil {
		return 0
	}
	return sum(m.cache, map[string]string{"cache": cache, "result": result})
}

// sum adds up the counters of vec whose labels match want (empty values match anything).
func sum(vec *prometheus.CounterVec, want map[string]string) float64 {
	ch := make(chan prometheus.Metric)
	go func() {
		vec.Collect(ch)
		close(ch)
	}()
	var total float64
	for metric := range ch {
		var pb dto.Metric
		if err := metric.Write(&pb); err != nil {
			continue
		}
		if labelsMatch(pb.GetLabel(), want) {
			total += pb.GetCounter().GetValue()
		}
	}
	return total
}

func labelsMatch(labels []*dto.LabelPair, want map[string]string) bool {
	for _, l := range labels {
		if w := want[l.GetName()]; w != "" && w != l.GetValue() {
			return false
		}
	}
	return true
}
