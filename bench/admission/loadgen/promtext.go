package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// sample is one line of the Prometheus text exposition format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseText reads the Prometheus text format (what /metrics serves to a client that does not
// ask for protobuf or OpenMetrics). Comments and blank lines are skipped; a malformed line is
// an error, so a format change shows up instead of producing silent zeros.
func parseText(r io.Reader) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w: %q", ln, err, line)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseLine(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return s, fmt.Errorf("no metric name")
	}
	s.name, line = line[:i], line[i:]
	if line[0] == '{' {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, " ,")
			if line == "" {
				return s, fmt.Errorf("unterminated label set")
			}
			if line[0] == '}' {
				line = line[1:]
				break
			}
			eq := strings.IndexByte(line, '=')
			if eq <= 0 || len(line) < eq+2 || line[eq+1] != '"' {
				return s, fmt.Errorf("bad label")
			}
			key := strings.TrimSpace(line[:eq])
			line = line[eq+2:]
			var b strings.Builder
			closed := false
			for j := 0; j < len(line); j++ {
				c := line[j]
				if c == '\\' && j+1 < len(line) {
					j++
					switch line[j] {
					case 'n':
						b.WriteByte('\n')
					default:
						b.WriteByte(line[j])
					}
					continue
				}
				if c == '"' {
					line, closed = line[j+1:], true
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return s, fmt.Errorf("unterminated label value")
			}
			s.labels[key] = b.String()
		}
	}
	fields := strings.Fields(line)
	if len(fields) < 1 {
		return s, fmt.Errorf("no value")
	}
	v, err := parseFloat(fields[0])
	if err != nil {
		return s, err
	}
	s.value = v
	return s, nil
}

func parseFloat(f string) (float64, error) {
	switch f {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(f, 64)
}

// matches reports whether every label in want has that value in s.
func (s sample) matches(name string, want map[string]string) bool {
	if s.name != name {
		return false
	}
	for k, v := range want {
		if s.labels[k] != v {
			return false
		}
	}
	return true
}

// scalar sums every series of name that carries the wanted labels; ok is false when there is none.
func scalar(ss []sample, name string, want map[string]string) (v float64, ok bool) {
	for _, s := range ss {
		if s.matches(name, want) {
			v += s.value
			ok = true
		}
	}
	return v, ok
}

// histogram is a cumulative Prometheus histogram: counts[i] requests took at most bounds[i]
// seconds; the last bound is +Inf.
type histogram struct {
	bounds []float64
	counts []float64
}

// histogramOf sums the _bucket series of name (every series with the wanted labels, for example
// both values of the apiserver's "rejected" label) into one histogram.
func histogramOf(ss []sample, name string, want map[string]string) histogram {
	byLE := map[float64]float64{}
	for _, s := range ss {
		if !s.matches(name+"_bucket", want) {
			continue
		}
		le, err := parseFloat(s.labels["le"])
		if err != nil {
			continue
		}
		byLE[le] += s.value
	}
	var h histogram
	for le := range byLE {
		h.bounds = append(h.bounds, le)
	}
	sort.Float64s(h.bounds)
	for _, le := range h.bounds {
		h.counts = append(h.counts, byLE[le])
	}
	return h
}

func (h histogram) total() float64 {
	if len(h.counts) == 0 {
		return 0
	}
	return h.counts[len(h.counts)-1]
}

// add returns h+o; a histogram without buckets is the identity. Bucket layouts must agree.
func (h histogram) add(o histogram) (histogram, error) {
	if len(o.bounds) == 0 {
		return h, nil
	}
	if len(h.bounds) == 0 {
		return o, nil
	}
	if len(h.bounds) != len(o.bounds) {
		return h, fmt.Errorf("histograms with different buckets")
	}
	r := histogram{bounds: h.bounds, counts: make([]float64, len(h.counts))}
	for i := range h.counts {
		if h.bounds[i] != o.bounds[i] {
			return h, fmt.Errorf("histograms with different buckets")
		}
		r.counts[i] = h.counts[i] + o.counts[i]
	}
	return r, nil
}

// sub returns after-before, the requests observed between two scrapes. A before without
// buckets counts as zero (the series did not exist yet).
func (h histogram) sub(before histogram) (histogram, error) {
	if len(before.bounds) == 0 {
		return h, nil
	}
	neg := histogram{bounds: before.bounds, counts: make([]float64, len(before.counts))}
	for i, c := range before.counts {
		neg.counts[i] = -c
	}
	d, err := h.add(neg)
	if err != nil {
		return d, err
	}
	for _, c := range d.counts {
		if c < 0 {
			return d, fmt.Errorf("counter went backwards (process restarted between scrapes)")
		}
	}
	return d, nil
}

// quantile estimates the q-quantile like PromQL's histogram_quantile: find the bucket that
// holds the rank and interpolate linearly inside it (the first bucket starts at 0). A rank in
// the +Inf bucket returns the highest finite bound. NaN when the histogram is empty.
func (h histogram) quantile(q float64) float64 {
	n := len(h.bounds)
	if n < 2 || h.total() == 0 || !math.IsInf(h.bounds[n-1], 1) {
		return math.NaN()
	}
	rank := q * h.total()
	b := sort.Search(n, func(i int) bool { return h.counts[i] >= rank })
	if b >= n-1 {
		return h.bounds[n-2]
	}
	start, below := 0.0, 0.0
	if b > 0 {
		start, below = h.bounds[b-1], h.counts[b-1]
	}
	end := h.bounds[b]
	inBucket := h.counts[b] - below
	if inBucket == 0 {
		return end
	}
	return start + (end-start)*(rank-below)/inBucket
}

// shareAtMost is the fraction of observations at most bound seconds, read straight from the
// bucket counts; ok is false when bound is not one of the histogram's bounds.
func (h histogram) shareAtMost(bound float64) (share float64, ok bool) {
	if h.total() == 0 {
		return math.NaN(), false
	}
	for i, b := range h.bounds {
		if math.Abs(b-bound) < 1e-12 {
			return h.counts[i] / h.total(), true
		}
	}
	return math.NaN(), false
}

// boundsString lists the finite bucket bounds in milliseconds.
func (h histogram) boundsString() string {
	var parts []string
	for _, b := range h.bounds {
		if math.IsInf(b, 1) {
			parts = append(parts, "+Inf")
			continue
		}
		parts = append(parts, strconv.FormatFloat(b*1000, 'g', -1, 64))
	}
	return strings.Join(parts, ", ") + " ms"
}
