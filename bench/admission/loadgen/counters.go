package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

const (
	registryDuration = "outrider_registry_request_duration_seconds"
	registryRequests = "outrider_registry_requests_total"
	cacheRequests    = "outrider_imagetrust_cache_requests_total"
)

// counterDelta is how much a counter grew over a window, summed over the controller replicas
// (and over any label not kept), by the values of two labels.
type counterDelta map[[2]string]float64

// counterDelta reads the growth of the counter name over the window, keyed by the labels l1
// and l2. A replica whose metrics could not be read is left out (derive notes it).
func (p *phaseResult) counterDelta(name, l1, l2 string) counterDelta {
	d := counterDelta{}
	for _, pod := range p.pods {
		b, a := p.before.pods[pod.uid], p.after.pods[pod.uid]
		if a.err != nil || b.err != nil {
			continue
		}
		for _, s := range a.samples {
			if s.name == name {
				d[[2]string{s.labels[l1], s.labels[l2]}] += s.value
			}
		}
		for _, s := range b.samples {
			if s.name == name {
				d[[2]string{s.labels[l1], s.labels[l2]}] -= s.value
			}
		}
	}
	for k, v := range d {
		if v == 0 {
			delete(d, k)
		}
	}
	return d
}

// sum adds the entries whose first label is first ("" for all) and whose second is second
// ("" for all).
func (d counterDelta) sum(first, second string) float64 {
	t := 0.0
	for k, v := range d {
		if (first == "" || k[0] == first) && (second == "" || k[1] == second) {
			t += v
		}
	}
	return t
}

// String lists the entries as "first/second n", largest first; "none" when empty.
func (d counterDelta) String() string {
	if len(d) == 0 {
		return "none"
	}
	keys := make([][2]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if d[a] != d[b] {
			if d[a] > d[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a[0]+a[1], b[0]+b[1])
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s/%s %.0f", k[0], k[1], d[k]))
	}
	return strings.Join(parts, ", ")
}

// imageTrust writes the registry and cache counters of the window, when there were any.
func (p *phaseResult) imageTrust(w writer) {
	if len(p.registry) == 0 && len(p.cache) == 0 {
		return
	}
	w("- controller registry requests (operation/outcome, both replicas): %s — %.0f in all, %s per 1,000 pod creations\n",
		p.registry, p.registry.sum("", ""), perThousand(p.registry.sum("", ""), p.load.sent))
	w("- controller image-trust cache lookups (cache/result): %s\n", p.cache)
}

// perThousand is n per 1,000 of sent, "n/a" without requests.
func perThousand(n float64, sent int) string {
	if sent == 0 {
		return "n/a"
	}
	v := n * 1000 / float64(sent)
	if v != 0 && v < 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// sumHist is the histogram name's delta over the window for series with labels (nil: every
// series), summed over the replicas, with its exact mean.
func (p *phaseResult) sumHist(name string, labels map[string]string) dist {
	var acc dist
	sum := 0.0
	for _, pod := range p.pods {
		b, a := p.before.pods[pod.uid], p.after.pods[pod.uid]
		if a.err != nil || b.err != nil {
			continue
		}
		d, err := histDelta(b.samples, a.samples, name, labels)
		if err != nil || !d.valid {
			continue
		}
		h, err := acc.h.add(d.h)
		if err != nil {
			continue
		}
		acc.h, acc.valid = h, true
		if d.n() > 0 {
			sum += d.mean * d.n()
		}
	}
	acc.mean = math.NaN()
	if acc.valid && acc.n() > 0 {
		acc.mean = sum / acc.n()
	}
	return acc
}
