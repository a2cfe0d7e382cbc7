package main

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
)

// details writes everything measured in one phase.
func (p *phaseResult) details(w writer) {
	w("### %s, %d/s\n\n", p.mode, p.rate)
	l := p.load
	w("- requests: %d planned, %d sent (%.1f/s over %.1f s), %d skipped at the in-flight cap; %d admitted, %d refused, %d errors; %d warnings; window %.1f s\n",
		l.planned, l.sent, p.achieved(), l.sendWindow.Seconds(), l.skipped, l.admitted, l.refused, l.errorCount(), p.warnings, p.window)
	kinds := make([]string, 0, len(l.errs))
	for k := range l.errs {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		w("  - error %q × %d, e.g. `%s`\n", k, l.errs[k], strings.ReplaceAll(l.errExample[k], "`", "'"))
	}
	c50, c95, c99 := p.clientQ()
	w("- client: p50 %s, p95 %s, p99 %s, max %s ms\n", ms(c50), ms(c95), ms(c99), ms(exactQuantile(l.lat, 1)))
	if sec, worst, n := slowestSecond(l); n > 0 {
		w("- slowest second of the window: +%d s, %d requests sent in it, the slowest took %s ms\n", sec, n, ms(worst))
	}
	if len(l.skipAt) > 0 {
		w("- the in-flight cap was hit between +%.1f s and +%.1f s of the window (requests backed up: a stall upstream)\n",
			l.skipAt[0], l.skipAt[len(l.skipAt)-1])
	}
	if p.judged {
		w("- API server, validating webhook: %.0f calls (%.0f rejected), p50/p95/p99 %s ms, mean %s ms, %s\n",
			p.apiHook.n(), p.apiRejected, triple(p.apiHook), ms(p.apiHook.mean), shares(p.apiHook.h, 0.005, 0.025))
		w("- API server, mutating webhook: %.0f calls, p50/p95/p99 %s ms, mean %s ms, %s\n",
			p.apiMut.n(), triple(p.apiMut), ms(p.apiMut.mean), shares(p.apiMut.h, 0.005, 0.025))
		w("- controller, validating decisions: %.0f, p50/p95/p99 %s ms, mean %s ms, %s; verdicts for Pods: %.0f allowed, %.0f warned, %.0f refused, %.0f error\n",
			p.ctrlHook.n(), triple(p.ctrlHook), ms(p.ctrlHook.mean), shares(p.ctrlHook.h, 0.0005, 0.001, 0.0025, 0.005, 0.010),
			p.decisions["allowed"], p.decisions["warned"], p.decisions["refused"], p.decisions["error"])
		w("- controller, mutating decisions: %.0f, p50/p95/p99 %s ms, mean %s ms\n", p.ctrlMut.n(), triple(p.ctrlMut), ms(p.ctrlMut.mean))
		if p.crH.valid && p.crH.n() > 0 {
			// controller-runtime exports this one without classic buckets: only the mean is meaningful.
			w("- controller-runtime, whole /validate/workloads handler (decode, decide, encode): %.0f requests, mean %s ms\n", p.crH.n(), ms(p.crH.mean))
		}
	}
	if p.warnings > 0 && p.warningExample != "" {
		w("- first warning of the run: %q\n", p.warningExample)
	}
	for _, s := range p.perPod {
		src := "metrics"
		if s.fromProc {
			src = "/proc"
		}
		w("- pod %s: CPU %s cores, RSS max %s MiB (%s), %.0f validating decisions, %.0f GC cycles, Go scheduler latency p99 %s ms\n",
			s.name, cond(s.cpuOK, fmt.Sprintf("%.3f", s.cores)), cond(s.rssOK, fmt.Sprintf("%.0f", s.rssMax/(1<<20))), src,
			s.webhookRequests, s.gcCycles, ms(s.schedP99))
	}
	w("- machine: %.2f of %d cores busy during the window, %.2f in its busiest %s (everything: API server, etcd, controller, this generator, other builds); generator %.2f cores; load average at the end %s\n",
		p.machineCores, runtime.NumCPU(), p.busiestCores(), p.sampleEvery(), p.selfCore, p.loadavg)
	p.imageTrust(w)
	for _, n := range p.notes {
		w("- note: %s\n", n)
	}
	w("\n")
}

func shares(h histogram, bounds ...float64) string {
	var parts []string
	for _, b := range bounds {
		s, ok := h.shareAtMost(b)
		if ok {
			parts = append(parts, fmt.Sprintf("≤%s ms %s", strings.TrimSuffix(fmt.Sprintf("%g", b*1000), ".0"), pct(s, ok)))
		}
	}
	if len(parts) == 0 {
		return "no data"
	}
	return strings.Join(parts, ", ")
}

func cond(ok bool, s string) string {
	if !ok {
		return "n/a"
	}
	return s
}

// slowestSecond finds the second of the window (by send time) whose slowest request was
// slowest: where a stall happened.
func slowestSecond(l *loadResult) (sec int, worst float64, n int) {
	worstBy, count := map[int]float64{}, map[int]int{}
	for i, v := range l.lat {
		s := int(l.at[i])
		worstBy[s] = math.Max(worstBy[s], v)
		count[s]++
	}
	sec = -1
	for s, v := range worstBy {
		if v > worst || (v == worst && s < sec) {
			sec, worst = s, v
		}
	}
	return sec, worst, count[sec]
}

// busiestCores is the machine's busiest interval between consecutive samples of the window.
func (p *phaseResult) busiestCores() float64 {
	all := append(append([]snapshot{p.before}, p.samples...), p.after)
	best := 0.0
	for i := 1; i < len(all); i++ {
		best = math.Max(best, busyCores(all[i-1].cpu, all[i].cpu))
	}
	return best
}

func (p *phaseResult) sampleEvery() string {
	if len(p.samples) > 0 {
		return p.samples[0].at.Sub(p.before.at).Round(time.Second).String()
	}
	return "window"
}
