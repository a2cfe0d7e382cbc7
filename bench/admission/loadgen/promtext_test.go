package main

import (
	"math"
	"strings"
	"testing"
)

const exposition = `# HELP h a histogram
# TYPE h histogram
h_bucket{name="w",rejected="false",le="0.005"} 90
h_bucket{name="w",rejected="false",le="0.025"} 95
h_bucket{name="w",rejected="false",le="+Inf"} 100
h_bucket{name="w",rejected="true",le="0.005"} 10
h_bucket{name="w",rejected="true",le="0.025"} 10
h_bucket{name="w",rejected="true",le="+Inf"} 10
h_bucket{name="other",rejected="true",le="0.005"} 7
h_bucket{name="other",rejected="true",le="0.025"} 7
h_bucket{name="other",rejected="true",le="+Inf"} 7
process_cpu_seconds_total 12.5
weird{msg="a \"quoted\", value",x="1"} 3 1700000000000
`

func TestParseAndHistogram(t *testing.T) {
	ss, err := parseText(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := scalar(ss, "process_cpu_seconds_total", nil); !ok || v != 12.5 {
		t.Fatalf("scalar = %v %v", v, ok)
	}
	if v, ok := scalar(ss, "weird", map[string]string{"msg": `a "quoted", value`}); !ok || v != 3 {
		t.Fatalf("escaped label: %v %v", v, ok)
	}
	h := histogramOf(ss, "h", map[string]string{"name": "w"})
	if h.total() != 110 {
		t.Fatalf("total = %v, want 110 (both rejected values, not the other webhook)", h.total())
	}
	// rank 55 of 110 lies in the first bucket [0, 5ms] holding 100: 5ms * 55/100.
	if got := h.quantile(0.5); math.Abs(got-0.00275) > 1e-12 {
		t.Fatalf("p50 = %v", got)
	}
	// rank 108.9 is above the 105 observations at most 25ms: the +Inf bucket, reported as 25ms.
	if got := h.quantile(0.99); got != 0.025 {
		t.Fatalf("p99 = %v, want the highest finite bound", got)
	}
	// rank 104.5 lies in (5ms, 25ms]: 5ms + 20ms * 4.5/5.
	if got := h.quantile(0.95); math.Abs(got-0.023) > 1e-12 {
		t.Fatalf("p95 = %v", got)
	}
	if s, ok := h.shareAtMost(0.005); !ok || math.Abs(s-100.0/110) > 1e-12 {
		t.Fatalf("share = %v %v", s, ok)
	}
	if _, ok := h.shareAtMost(0.010); ok {
		t.Fatal("10ms is not a bound here")
	}
}

func TestSubDetectsReset(t *testing.T) {
	a := histogram{bounds: []float64{0.001, math.Inf(1)}, counts: []float64{5, 6}}
	b := histogram{bounds: []float64{0.001, math.Inf(1)}, counts: []float64{3, 3}}
	d, err := a.sub(b)
	if err != nil || d.counts[0] != 2 || d.counts[1] != 3 {
		t.Fatalf("delta = %v %v", d, err)
	}
	if _, err := b.sub(a); err == nil {
		t.Fatal("a counter going backwards must be an error")
	}
	if d, err := a.sub(histogram{}); err != nil || d.total() != 6 {
		t.Fatalf("empty before: %v %v", d, err)
	}
}

func TestExactQuantile(t *testing.T) {
	var xs []float64
	for i := 1; i <= 100; i++ {
		xs = append(xs, float64(i))
	}
	if q := exactQuantile(xs, 0.99); q != 99 {
		t.Fatalf("p99 = %v", q)
	}
	if q := exactQuantile(xs, 0.5); q != 50 {
		t.Fatalf("p50 = %v", q)
	}
	if !math.IsNaN(exactQuantile(nil, 0.5)) {
		t.Fatal("empty must be NaN")
	}
}
