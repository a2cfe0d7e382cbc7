package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Targets of issue 5 for the Outrider pair.
const (
	targetAddedP50ms = 0.1
	targetAddedP99ms = 1.0
	targetRSSMiB     = 20.0
)

var labels = map[string]string{
	"direct":   "direct (no proxy)",
	"outrider": "Outrider pair",
	"haproxy":  "HAProxy pair",
	"nginx":    "nginx pair",
	"plain":    "HAProxy pair, plain TCP (floor: no TLS)",
	"allinone": "Outrider pair, all-in-one binary (`outrider proxy`, diagnostic)",
}

func label(v string) string {
	if l, ok := labels[v]; ok {
		return l
	}
	return v
}

func ms(seconds float64) float64 { return seconds * 1e3 }

func quantile(q float64) func(*run) float64 {
	return func(r *run) float64 { return ms(r.quantiles[q]) }
}

func always(f func(*run) float64) func(*run) (float64, bool) {
	return func(r *run) (float64, bool) { return f(r), true }
}

func spread(v []float64, format string) string {
	if len(v) < 2 {
		return ""
	}
	return fmt.Sprintf(" ("+format+"–"+format+")", slices.Min(v), slices.Max(v))
}

func render(w io.Writer, rs *results) error {
	var b strings.Builder
	latencyTable(&b, rs)
	resourceTable(&b, rs)
	bulkTable(&b, rs)
	targetTable(&b, rs)
	perRunTable(&b, rs)
	_, err := io.WriteString(w, b.String())
	return err
}

func latencyTable(b *strings.Builder, rs *results) {
	fmt.Fprintf(b, "### Latency at the fixed rate (medians of %d runs; added = paired difference with the direct path, its median and range)\n\n", len(rs.reps))
	b.WriteString("| path | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | mean ms | added p50 ms | added p90 ms | added p99 ms | added mean ms | failed requests |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	mean := func(r *run) float64 { return ms(r.lat.DurationHistogram.Avg) }
	for i, v := range rs.variants {
		qps := median(rs.each(v, always(func(r *run) float64 { return r.lat.ActualQPS })))
		fmt.Fprintf(b, "| %s | %.1f |", label(v), qps)
		for _, f := range []func(*run) float64{quantile(50), quantile(90), quantile(99), quantile(99.9), mean} {
			fmt.Fprintf(b, " %.3f |", median(rs.each(v, always(f))))
		}
		for _, f := range []func(*run) float64{quantile(50), quantile(90), quantile(99), mean} {
			if i == 0 {
				b.WriteString(" — |")
				continue
			}
			d := rs.added(v, f)
			fmt.Fprintf(b, " %+.3f%s |", median(d), spread(d, "%+.3f"))
		}
		var errs float64
		for _, e := range rs.each(v, always(func(r *run) float64 { return float64(r.errors) })) {
			errs += e
		}
		fmt.Fprintf(b, " %.0f |\n", errs)
	}
	b.WriteString("\n")
}

// proxyGroups lists the (variant, side) pairs that ran a proxy.
func proxyGroups(rs *results) [][2]string {
	var out [][2]string
	for _, v := range rs.variants[1:] {
		for _, side := range []string{"client", "server"} {
			out = append(out, [2]string{v, side})
		}
	}
	return out
}

func group(r *run, bulk bool, v, side string) (procGroup, bool) {
	s := r.latProc
	if bulk {
		s = r.bulkProc
	}
	g, ok := s.Groups[v+"-"+side]
	return g, ok
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func resourceTable(b *strings.Builder, rs *results) {
	b.WriteString("### Each proxy at the fixed rate (medians over runs; nginx = master + workers)\n\n")
	b.WriteString("| proxy | side | CPU (cores) | RSS steady MiB | of which anon / file MiB | RSS peak MiB (window) | PSS MiB | VmHWM MiB (since start, bulk included) |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, vs := range proxyGroups(rs) {
		v, side := vs[0], vs[1]
		get := func(f func(procGroup) float64) float64 {
			return median(rs.each(v, func(r *run) (float64, bool) {
				g, ok := group(r, false, v, side)
				return f(g), ok
			}))
		}
		hwm := rs.each(v, func(r *run) (float64, bool) {
			g, ok := group(r, false, v, side)
			return mib(g.HWMKiB), ok
		})
		fmt.Fprintf(b, "| %s | %s | %.3f | %.1f | %.1f / %.1f | %.1f | %.1f | %.1f |\n", label(v), side,
			get(func(g procGroup) float64 { return g.Cores }),
			get(func(g procGroup) float64 { return mib(g.RSSKiBMedian) }),
			get(func(g procGroup) float64 { return mib(g.AnonKiBMedian) }),
			get(func(g procGroup) float64 { return mib(g.FileKiBMedian) }),
			get(func(g procGroup) float64 { return mib(g.RSSKiBMax) }),
			get(func(g procGroup) float64 { return mib(g.PSSKiBMedian) }),
			slices.Max(append(hwm, 0)))
	}
	b.WriteString("\n")
}

func bulkTable(b *strings.Builder, rs *results) {
	b.WriteString("### Bulk throughput (iperf3, medians over runs)\n\n")
	b.WriteString("| path | MB/s (range) | vs direct | client proxy CPU (cores) | server proxy CPU (cores) | proxy CPU s per GB (both) | TCP retransmits |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	direct := median(rs.each(rs.variants[0], always((*run).bulkMBps)))
	for i, v := range rs.variants {
		t := rs.each(v, always((*run).bulkMBps))
		fmt.Fprintf(b, "| %s | %.0f%s | %.2f× |", label(v), median(t), spread(t, "%.0f"), median(t)/direct)
		if i == 0 {
			b.WriteString(" — | — | — |")
		} else {
			for _, side := range []string{"client", "server"} {
				c := rs.each(v, func(r *run) (float64, bool) { g, ok := group(r, true, v, side); return g.Cores, ok })
				fmt.Fprintf(b, " %.2f |", median(c))
			}
			both := rs.each(v, func(r *run) (float64, bool) {
				c, okc := group(r, true, v, "client")
				s, oks := group(r, true, v, "server")
				gb := r.bulkMBps() / 1e3 // per second of wall time
				return (c.Cores + s.Cores) / gb, okc && oks && gb > 0
			})
			fmt.Fprintf(b, " %.2f |", median(both))
		}
		rt := rs.each(v, always(func(r *run) float64 { return float64(r.bulk.End.SumSent.Retransmits) }))
		fmt.Fprintf(b, " %.0f |\n", median(rt))
	}
	b.WriteString("\n")
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func targetTable(b *strings.Builder, rs *results) {
	const o = "outrider"
	if len(rs.runs[o]) == 0 {
		return
	}
	b.WriteString("### Issue 5's targets for the Outrider pair\n\n")
	b.WriteString("| target | measured | |\n|---|---:|---|\n")
	p50 := median(rs.added(o, quantile(50)))
	p99 := median(rs.added(o, quantile(99)))
	fmt.Fprintf(b, "| added p50 ≤ %.1f ms | %.3f ms | %s |\n", targetAddedP50ms, p50, verdict(p50 <= targetAddedP50ms))
	fmt.Fprintf(b, "| added p99 ≤ %.0f ms | %.3f ms | %s |\n", targetAddedP99ms, p99, verdict(p99 <= targetAddedP99ms))
	ot := median(rs.each(o, always((*run).bulkMBps)))
	for _, peer := range []string{"haproxy", "nginx"} {
		if len(rs.runs[peer]) == 0 {
			continue
		}
		pt := median(rs.each(peer, always((*run).bulkMBps)))
		fmt.Fprintf(b, "| bulk throughput ≥ %s's (%.0f MB/s) | %.0f MB/s (%.2f×) | %s |\n", label(peer), pt, ot, ot/pt, verdict(ot >= pt))
	}
	for _, v := range []string{o, "allinone"} {
		if len(rs.runs[v]) == 0 {
			continue
		}
		for _, side := range []string{"client", "server"} {
			peak := median(rs.each(v, func(r *run) (float64, bool) { g, ok := group(r, false, v, side); return mib(g.RSSKiBMax), ok }))
			what := "the shipped `outrider-proxy`"
			if v != o {
				what = "all-in-one `outrider proxy`, diagnostic"
			}
			fmt.Fprintf(b, "| RSS ≤ %.0f MiB at the fixed rate, %s proxy, peak in window (%s) | %.1f MiB | %s |\n", targetRSSMiB, side, what, peak, verdict(peak <= targetRSSMiB))
		}
	}
	b.WriteString("\n")
}

func perRunTable(b *strings.Builder, rs *results) {
	b.WriteString("### Every run\n\n")
	b.WriteString("| rep | path | req/s | p50 ms | p90 ms | p99 ms | mean ms | bulk MB/s |\n|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for _, rep := range rs.reps {
		for _, v := range rs.variants {
			r := rs.runs[v][rep]
			if r == nil {
				continue
			}
			fmt.Fprintf(b, "| %d | %s | %.1f | %.3f | %.3f | %.3f | %.3f | %.0f |\n", rep, label(v), r.lat.ActualQPS,
				ms(r.quantiles[50]), ms(r.quantiles[90]), ms(r.quantiles[99]), ms(r.lat.DurationHistogram.Avg), r.bulkMBps())
		}
	}
	b.WriteString("\n")
}
