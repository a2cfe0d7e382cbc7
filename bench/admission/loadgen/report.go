package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

const (
	apiHist      = "apiserver_admission_webhook_admission_duration_seconds"
	ctrlHist     = "outrider_admission_duration_seconds"
	ctrlDecision = "outrider_admission_decisions_total"
	crHist       = "controller_runtime_webhook_latency_seconds"
	schedHist    = "go_sched_latencies_seconds"
	targetRate   = 200
	targetP99    = 0.010
)

var (
	apiValidate = map[string]string{"name": "workloads.validate.outrider.dev", "type": "validating", "operation": "CREATE"}
	apiMutate   = map[string]string{"name": "workloads.mutate.outrider.dev", "type": "admit", "operation": "CREATE"}
)

// dist is a latency distribution from a histogram delta.
type dist struct {
	h     histogram
	mean  float64 // from _sum/_count: exact, whatever the buckets
	valid bool
}

func (d dist) n() float64 { return d.h.total() }

type podStats struct {
	name            string
	cores, rssMax   float64
	cpuOK, rssOK    bool
	schedP99        float64
	gcCycles        float64
	fromProc        bool
	webhookRequests float64
}

type phaseResult struct {
	mode     string
	judged   bool // the namespace is one Outrider's webhooks judge
	rate     int
	replicas int32
	pods     []controllerPod
	before   snapshot
	after    snapshot
	samples  []snapshot
	load     *loadResult
	warnings int64
	loadavg  string
	// warningExample is the first Warning header of the whole run
	warningExample string
	notes          []string

	window                 float64 // seconds between the two scrapes
	apiHook, apiMut        dist
	apiRejected            float64
	ctrlHook, ctrlMut, crH dist
	decisions              map[string]float64
	ctrlCores, ctrlRSSMax  float64
	ctrlCPUOK, ctrlRSSOK   bool
	perPod                 []podStats
	machineCores, selfCore float64
	// registry and cache are the controller's image-trust counters over the window, summed
	// over the replicas: registry requests by operation and outcome, cache lookups by cache
	// and result.
	registry, cache counterDelta
}

// histDelta is the distribution of the observations between two scrapes, summed over
// every series with the labels.
func histDelta(before, after []sample, name string, labels map[string]string) (dist, error) {
	a, b := histogramOf(after, name, labels), histogramOf(before, name, labels)
	if len(a.bounds) == 0 {
		return dist{}, nil
	}
	h, err := a.sub(b)
	if err != nil {
		return dist{}, err
	}
	sa, _ := scalar(after, name+"_sum", labels)
	sb, _ := scalar(before, name+"_sum", labels)
	d := dist{h: h, valid: true, mean: math.NaN()}
	if h.total() > 0 {
		d.mean = (sa - sb) / h.total()
	}
	return d, nil
}

func (p *phaseResult) note(format string, args ...any) {
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

func (p *phaseResult) derive() {
	p.window = p.after.at.Sub(p.before.at).Seconds()
	p.machineCores = busyCores(p.before.cpu, p.after.cpu)
	p.selfCore = (p.after.self - p.before.self).Seconds() / p.window

	if p.before.apiErr != nil || p.after.apiErr != nil {
		p.note("API server /metrics could not be read: %v %v", p.before.apiErr, p.after.apiErr)
	} else {
		var err error
		if p.apiHook, err = histDelta(p.before.api, p.after.api, apiHist, apiValidate); err != nil {
			p.note("API server validating histogram: %v", err)
		}
		if p.apiMut, err = histDelta(p.before.api, p.after.api, apiHist, apiMutate); err != nil {
			p.note("API server mutating histogram: %v", err)
		}
		rj := map[string]string{"rejected": "true"}
		for k, v := range apiValidate {
			rj[k] = v
		}
		a, _ := scalar(p.after.api, apiHist+"_count", rj)
		b, _ := scalar(p.before.api, apiHist+"_count", rj)
		p.apiRejected = a - b
	}

	p.decisions = map[string]float64{}
	p.ctrlCPUOK, p.ctrlRSSOK = true, true
	var hook, mut, cr dist
	var hookSum, mutSum, crSum float64
	for _, pod := range p.pods {
		b, a := p.before.pods[pod.uid], p.after.pods[pod.uid]
		st := podStats{name: pod.name, schedP99: math.NaN()}
		if b.err != nil || a.err != nil {
			p.note("controller pod %s: metrics not read (%v %v)", pod.name, b.err, a.err)
			p.ctrlCPUOK, p.ctrlRSSOK = false, false
			p.perPod = append(p.perPod, st)
			continue
		}
		add := func(acc *dist, sum *float64, name string, labels map[string]string) {
			d, err := histDelta(b.samples, a.samples, name, labels)
			if err != nil {
				p.note("controller pod %s, %s: %v", pod.name, name, err)
				return
			}
			if !d.valid {
				return
			}
			h, err := acc.h.add(d.h)
			if err != nil {
				p.note("controller pod %s, %s: %v", pod.name, name, err)
				return
			}
			acc.h, acc.valid = h, true
			if d.n() > 0 {
				*sum += d.mean * d.n()
			}
		}
		add(&hook, &hookSum, ctrlHist, map[string]string{"webhook": "workloads"})
		add(&mut, &mutSum, ctrlHist, map[string]string{"webhook": "mutate"})
		add(&cr, &crSum, crHist, map[string]string{"webhook": "/validate/workloads"})
		if d, err := histDelta(b.samples, a.samples, ctrlHist, map[string]string{"webhook": "workloads"}); err == nil {
			st.webhookRequests = d.n()
		}
		for _, v := range []string{"allowed", "warned", "refused", "error"} {
			l := map[string]string{"webhook": "workloads", "kind": "Pod", "verdict": v}
			x, _ := scalar(a.samples, ctrlDecision, l)
			y, _ := scalar(b.samples, ctrlDecision, l)
			p.decisions[v] += x - y
		}
		if d, err := histDelta(b.samples, a.samples, schedHist, nil); err == nil && d.n() > 0 {
			st.schedP99 = d.h.quantile(0.99)
		}
		gx, _ := scalar(a.samples, "go_gc_cycles_total_gc_cycles_total", nil)
		gy, _ := scalar(b.samples, "go_gc_cycles_total_gc_cycles_total", nil)
		st.gcCycles = gx - gy
		ca, ok1 := a.cpuSeconds()
		cb, ok2 := b.cpuSeconds()
		st.cpuOK = ok1 && ok2
		if st.cpuOK {
			st.cores = (ca - cb) / p.window
			p.ctrlCores += st.cores
		} else {
			p.ctrlCPUOK = false
		}
		st.fromProc = a.procOK
		p.perPod = append(p.perPod, st)
	}
	finish := func(d dist, sum float64) dist {
		if d.valid && d.n() > 0 {
			d.mean = sum / d.n()
		} else {
			d.mean = math.NaN()
		}
		return d
	}
	p.ctrlHook, p.ctrlMut, p.crH = finish(hook, hookSum), finish(mut, mutSum), finish(cr, crSum)

	// Memory: the largest total RSS seen at one instant, and each pod's largest.
	all := append(append([]snapshot{p.before}, p.samples...), p.after)
	for _, s := range all {
		total, complete := 0.0, true
		for i, pod := range p.pods {
			v, ok := s.pods[pod.uid].rssBytes()
			if !ok {
				complete = false
				continue
			}
			total += v
			p.perPod[i].rss(v)
		}
		if complete {
			p.ctrlRSSMax = math.Max(p.ctrlRSSMax, total)
		} else {
			p.ctrlRSSOK = false
		}
	}

	p.registry = p.counterDelta(registryRequests, "operation", "outcome")
	p.cache = p.counterDelta(cacheRequests, "cache", "result")

	if p.judged {
		if p.apiHook.valid && p.apiHook.n() > float64(p.load.sent) {
			p.note("the API server called the validating webhook %.0f times for CREATE in the window, %d of them ours: "+
				"the rest is other traffic on the shared cluster (other engineers' tests) and is in the webhook figures",
				p.apiHook.n(), p.load.sent)
		}
	} else if p.apiHook.valid && p.apiHook.n() > 0 {
		p.note("the validating webhook saw %.0f CREATE calls during the baseline window: other traffic on the cluster, not ours", p.apiHook.n())
	}
}

func (s *podStats) rss(v float64) {
	s.rssOK = true
	s.rssMax = math.Max(s.rssMax, v)
}

func (p *phaseResult) clientQ() (p50, p95, p99 float64) {
	return exactQuantile(p.load.lat, 0.50), exactQuantile(p.load.lat, 0.95), exactQuantile(p.load.lat, 0.99)
}

func (p *phaseResult) achieved() float64 {
	return float64(p.load.sent) / p.load.sendWindow.Seconds()
}

func ms(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	switch {
	case v < 0.001:
		return fmt.Sprintf("%.3f", v*1000)
	case v < 0.1:
		return fmt.Sprintf("%.2f", v*1000)
	}
	return fmt.Sprintf("%.0f", v*1000)
}

func pct(v float64, ok bool) string {
	if !ok || math.IsNaN(v) {
		return "n/a"
	}
	if v >= 0.9995 && v < 1 {
		return fmt.Sprintf("%.2f%%", v*100)
	}
	return fmt.Sprintf("%.1f%%", v*100)
}

func triple(d dist) string {
	if !d.valid || d.n() == 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %s / %s", ms(d.h.quantile(0.5)), ms(d.h.quantile(0.95)), ms(d.h.quantile(0.99)))
}

func (p *phaseResult) oneLine() string {
	c50, _, c99 := p.clientQ()
	s := fmt.Sprintf("%s %d/s: sent %d (%.1f/s), client p50 %s ms p99 %s ms, refused %d, errors %d",
		p.mode, p.rate, p.load.sent, p.achieved(), ms(c50), ms(c99), p.load.refused, p.load.errorCount())
	if p.judged {
		s += fmt.Sprintf(", controller p99 %s ms, API server webhook p99 %s ms", ms(p.ctrlHook.h.quantile(0.99)), ms(p.apiHook.h.quantile(0.99)))
	}
	return s
}

type report struct {
	command, machine, server, ctrlImage, ctrlCPULimit, image string
	loadStart, loadEnd                                       string
	started, finished                                        time.Time
	duration, warmup                                         time.Duration
	badShare                                                 float64
	inflight                                                 int
	phases                                                   []*phaseResult
	sig                                                      *sigResult
}

func (r *report) failed() bool {
	if r.sig != nil && r.sig.failed() {
		return true
	}
	for _, p := range r.phases {
		if p.load.errorCount() > 0 {
			return true
		}
	}
	return false
}

// writer appends formatted text to a report.
type writer func(format string, args ...any)

func (r *report) markdown() string {
	var b strings.Builder
	w := writer(func(format string, args ...any) { fmt.Fprintf(&b, format, args...) })
	r.header(w)
	if len(r.phases) > 0 {
		r.fixedRates(w)
	}
	if r.sig != nil {
		r.sig.markdown(w)
	}
	w("\n## Details\n\n")
	for _, p := range r.allPhases() {
		p.details(w)
	}
	return b.String()
}

// allPhases are the fixed-rate phases and then the signature scenario's.
func (r *report) allPhases() []*phaseResult {
	all := slices.Clone(r.phases)
	if r.sig != nil {
		all = append(all, r.sig.phases()...)
	}
	return all
}

func (r *report) header(w writer) {
	replicas := int32(0)
	if all := r.allPhases(); len(all) > 0 {
		replicas = all[0].replicas
	}
	if len(r.phases) > 0 {
		w("# Admission benchmark: pod creations at fixed rates through the API server\n\n")
	} else {
		w("# Admission benchmark: pod creations with image signature verification\n\n")
	}
	w("- command: `%s`\n", r.command)
	w("- date: %s – %s\n", r.started.UTC().Format("2006-01-02 15:04:05"), r.finished.UTC().Format("15:04:05 MST"))
	w("- machine: %s (shared with other engineers' builds)\n", r.machine)
	w("- load average (1/5/15 min): %s at start, %s at end\n", r.loadStart, r.loadEnd)
	lim := "no CPU limit"
	if r.ctrlCPULimit != "" {
		lim = "CPU limit " + r.ctrlCPULimit
	}
	w("- cluster: Kubernetes %s, single node on this machine; controller `%s`, %d replicas, %s\n", r.server, r.ctrlImage, replicas, lim)
	if len(r.phases) > 0 {
		w("- load: open loop, request i sent at start+i/rate, at most %d in flight (a request beyond that is skipped and counted); "+
			"client-go QPS/Burst 1000; %s warm-up (discarded) then %s measured per rate; %.0f%% of the pods non-compliant "+
			"(privileged, root: refused), the rest restricted-compliant (`%s`)\n",
			r.inflight, r.warmup, r.duration, r.badShare*100, r.image)
	}
	w("- **server-side dry-run** (`dryRun=All`): the API server runs the full admission chain, Outrider's mutating and " +
		"validating webhooks included (both `sideEffects: NoneOnDryRun`), and persists nothing — no etcd write, no " +
		"scheduling, no kubelet work. Client latency is therefore lower than for real creates; the webhook's own time is the same.\n\n")
}

func (r *report) fixedRates(w writer) {
	w("| mode | rate | achieved | client p50 / p95 / p99 (ms) | API server webhook p50 / p95 / p99 (exact mean) (ms) | ≤5 ms | controller p50 / p95 / p99 (ms) | ≤10 ms | refused / errors | controller CPU (cores) | controller RSS (MiB) |\n")
	w("|---|---:|---:|---|---|---:|---|---:|---|---:|---:|\n")
	for _, p := range r.phases {
		c50, c95, c99 := p.clientQ()
		api, api5, ctrl, ctrl10 := "—", "—", "—", "—"
		if p.mode == "webhook" {
			api, ctrl = triple(p.apiHook), triple(p.ctrlHook)
			if p.apiHook.valid && p.apiHook.n() > 0 {
				// The exact mean next to the coarse-bucket estimates.
				api += fmt.Sprintf(" (mean %s)", ms(p.apiHook.mean))
			}
			s, ok := p.apiHook.h.shareAtMost(0.005)
			api5 = pct(s, ok)
			s, ok = p.ctrlHook.h.shareAtMost(0.010)
			ctrl10 = pct(s, ok)
		}
		cpu, rss := "n/a", "n/a"
		if p.ctrlCPUOK {
			cpu = fmt.Sprintf("%.3f", p.ctrlCores)
		}
		if p.ctrlRSSOK {
			rss = fmt.Sprintf("%.0f", p.ctrlRSSMax/(1<<20))
		}
		w("| %s | %d/s | %.1f/s | %s / %s / %s | %s | %s | %s | %s | %d / %d | %s | %s |\n",
			p.mode, p.rate, p.achieved(), ms(c50), ms(c95), ms(c99), api, api5, ctrl, ctrl10,
			p.load.refused, p.load.errorCount(), cpu, rss)
	}
	w("\n")

	// The target, decided from the bucket counts, not from the interpolated estimate.
	for _, p := range r.phases {
		if p.mode != "webhook" || p.rate != targetRate {
			continue
		}
		share, ok := p.ctrlHook.h.shareAtMost(targetP99)
		verdict := "FAIL"
		if ok && share >= 0.99 {
			verdict = "PASS"
		}
		if !ok || p.ctrlHook.n() == 0 {
			verdict = "NO DATA"
		}
		w("**p99 < 10 ms at 200/s: %s (controller histogram)** — %s of %.0f decisions took ≤10 ms (the 10 ms bucket "+
			"bound decides it exactly; the interpolated p99 is %s ms).", verdict, pct(share, ok), p.ctrlHook.n(), ms(p.ctrlHook.h.quantile(0.99)))
		if s, ok := p.apiHook.h.shareAtMost(0.025); ok {
			s5, _ := p.apiHook.h.shareAtMost(0.005)
			w(" Seen from the API server (TLS, HTTP, JSON both ways included): %s of the webhook calls ≤5 ms, %s ≤25 ms; mean %s ms.",
				pct(s5, true), pct(s, true), ms(p.apiHook.mean))
		}
		w("\n\n")
	}
	// What the webhooks add, client side.
	for _, p := range r.phases {
		if p.mode != "webhook" {
			continue
		}
		for _, q := range r.phases {
			if q.mode == "baseline" && q.rate == p.rate {
				a50, _, a99 := p.clientQ()
				b50, _, b99 := q.clientQ()
				w("- %d/s: the webhooks add %+.2f ms at p50 and %+.2f ms at p99 to a dry-run pod create, client side (webhook run minus baseline run).\n",
					p.rate, (a50-b50)*1000, (a99-b99)*1000)
			}
		}
	}
	w("\n## How to read this\n\n")
	if p := r.firstWebhook(); p != nil {
		w("- API server histogram `%s{name=\"workloads.validate.outrider.dev\"}` has buckets %s: "+
			"its quantiles are interpolated inside those buckets, so a p99 of \"4 ms\" means \"in the first bucket\" — read the ≤5 ms share and the mean (exact, from `_sum`/`_count`) instead.\n",
			apiHist, p.apiHook.h.boundsString())
		w("- Controller histogram `%s{webhook=\"workloads\"}` has buckets %s; it times the decision (`Decide`), not TLS, HTTP or decoding the AdmissionReview, which the API server's figure includes.\n",
			ctrlHist, p.ctrlHook.h.boundsString())
	}
	w("- Quantiles from histograms are the delta between a scrape just before and just after the window, summed over both " +
		"replicas, interpolated like PromQL's `histogram_quantile`. Client quantiles are exact (every request kept and sorted); " +
		"they include the whole create: authn/authz, both webhooks, API validation. Errors are not in them.\n")
	w("- The histograms count every call in the window, also other engineers' traffic on the shared cluster; the notes below say when there was any.\n")
	w("- Controller CPU is the `process_cpu_seconds_total` delta over the window summed over the replicas (cores); RSS is the largest sum of `process_resident_memory_bytes` over the replicas, sampled every 5 s.\n")
	w("- Baseline rows: the same load in a namespace temporarily excluded from both Outrider webhooks (namespaceSelector), so no webhook is called; all pods are admitted there.\n")
}

func (r *report) firstWebhook() *phaseResult {
	for _, p := range r.phases {
		if p.mode == "webhook" && p.apiHook.valid && p.ctrlHook.valid {
			return p
		}
	}
	return nil
}
