package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// results is what the run keeps for the report besides the raw files.
type results struct {
	date, end          time.Time
	loadStart, loadEnd string
	proxyCommand       string // the injected proxy container's command and arguments
	proxyImage         string
	proxyProcess       string // its process's command line on the node
	counters           []string
	shares             map[string]string // cgroup v1 cpu.shares by process
	startup            []*startSample
}

// fortioResult is the part of fortio's JSON result used here.
type fortioResult struct {
	ActualQPS         float64
	ActualDuration    int64 // ns
	DurationHistogram struct {
		Count       int64
		Avg         float64
		Percentiles []struct{ Percentile, Value float64 }
	}
	Sizes struct {
		Count int64
		Sum   float64
	}
	RetCodes map[string]int64
}

// procGroup is one process in a procmon summary (bench/mesh/procmon).
type procGroup struct {
	Cores         float64
	RSSKiBMedian  int64
	RSSKiBMax     int64
	AnonKiBMedian int64
	FileKiBMedian int64
	PSSKiBMedian  int64
	HWMKiB        int64
}

type procSummary struct {
	Groups map[string]procGroup
}

// run is one repetition of one variant.
type run struct {
	rep               int
	variant           string
	lat, bulk         fortioResult
	latProc, bulkProc procSummary
	latWait           map[string]float64 // seconds runnable but waiting for a CPU, per process
	hasBulk           bool
	loadStart         string
}

func readJSON(path string, into any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func loadRun(dir string, rep int, variant string) (*run, error) {
	r := &run{rep: rep, variant: variant}
	if err := readJSON(filepath.Join(dir, "fortio.json"), &r.lat); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, "fortio-proc.json"), &r.latProc); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, "fortio-wait.json"), &r.latWait); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "bulk.json")); err == nil {
		r.hasBulk = true
		if err := readJSON(filepath.Join(dir, "bulk.json"), &r.bulk); err != nil {
			return nil, err
		}
		if err := readJSON(filepath.Join(dir, "bulk-proc.json"), &r.bulkProc); err != nil {
			return nil, err
		}
	}
	la, _ := os.ReadFile(filepath.Join(dir, "loadavg-start"))
	r.loadStart = strings.TrimSpace(string(la))
	return r, nil
}

// q is a latency quantile in ms.
func (r *run) q(p float64) float64 {
	for _, x := range r.lat.DurationHistogram.Percentiles {
		if x.Percentile == p {
			return x.Value * 1e3
		}
	}
	return math.NaN()
}

func (r *run) mean() float64 { return r.lat.DurationHistogram.Avg * 1e3 }

func failed(f fortioResult) int64 {
	return f.DurationHistogram.Count - f.RetCodes["200"]
}

// bulkMBps is the answers' bytes over the window, in MB/s (10^6 bytes).
func (r *run) bulkMBps() float64 {
	if !r.hasBulk || r.bulk.ActualDuration == 0 {
		return 0
	}
	return r.bulk.Sizes.Sum / (float64(r.bulk.ActualDuration) / 1e9) / 1e6
}

// --- statistics -------------------------------------------------------------------------------

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// p90 is the nearest-rank 90th percentile.
func p90(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(math.Ceil(0.9*float64(len(s))))-1]
}

func spread(v []float64, format string) string {
	if len(v) < 2 {
		return ""
	}
	return fmt.Sprintf(" ("+format+" to "+format+")", slices.Min(v), slices.Max(v))
}

// --- the report -----------------------------------------------------------------------------

var runDir = regexp.MustCompile(`^r(\d+)-([a-z]+)$`)

type runSet struct {
	reps []int
	by   map[string]map[int]*run
}

func (rs *runSet) each(v string, f func(*run) (float64, bool)) []float64 {
	var out []float64
	for _, rep := range rs.reps {
		if r := rs.by[v][rep]; r != nil {
			if x, ok := f(r); ok {
				out = append(out, x)
			}
		}
	}
	return out
}

// paired is, per repetition, the meshed value minus the direct one.
func (rs *runSet) paired(f func(*run) float64) []float64 {
	var out []float64
	for _, rep := range rs.reps {
		d, m := rs.by["direct"][rep], rs.by["meshed"][rep]
		if d != nil && m != nil {
			out = append(out, f(m)-f(d))
		}
	}
	return out
}

func all(f func(*run) float64) func(*run) (float64, bool) {
	return func(r *run) (float64, bool) { return f(r), true }
}

func loadRuns(dir string) (*runSet, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	rs := &runSet{by: map[string]map[int]*run{"direct": {}, "meshed": {}}}
	for _, e := range entries {
		m := runDir.FindStringSubmatch(e.Name())
		if m == nil || rs.by[m[2]] == nil {
			continue
		}
		rep, _ := strconv.Atoi(m[1])
		r, err := loadRun(filepath.Join(dir, e.Name()), rep, m[2])
		if err != nil {
			return nil, err
		}
		rs.by[m[2]][rep] = r
		if !slices.Contains(rs.reps, rep) {
			rs.reps = append(rs.reps, rep)
		}
	}
	slices.Sort(rs.reps)
	return rs, nil
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func kubepodsShares() string {
	b, err := os.ReadFile("/sys/fs/cgroup/cpu/kubepods/cpu.shares")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func gitDescribe() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func (b *bench) writeResults() error {
	rs, err := loadRuns(filepath.Join(b.cfg.work, "runs"))
	if err != nil {
		return err
	}
	c, res := b.cfg, b.res
	var w strings.Builder
	w.WriteString("# Mesh benchmark in the local cluster: pod to pod, direct and meshed\n\n")
	cpu := "?"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.*)$`).FindSubmatch(info); m != nil {
			cpu = string(m[1])
		}
	}
	fmt.Fprintf(&w, "Run %s–%s UTC on %d cores (%s), shared machine; the cluster is shared too (other namespaces' pods ran alongside).\n",
		res.date.Format("2006-01-02 15:04"), res.end.Format("15:04"), runtime.NumCPU(), cpu)
	fmt.Fprintf(&w, "Load average (1, 5, 15 min) at the start: %s; at the end: %s; 1-min load at the start of each window: %s.\n\n",
		res.loadStart, res.loadEnd, strings.Join(rs.loads(), ", "))
	fmt.Fprintf(&w, "- Namespaces: `%s` (plain) and `%s` (`security.outrider.dev/mesh=enabled`; AccessPolicy `server`: ServiceAccount `client` → `app=server`, port %d).\n",
		b.vs[0].ns, b.vs[1].ns, appPort)
	fmt.Fprintf(&w, "- Pods: fortio server and client (`%s`), UID 65532, restricted; server %s → client %s (direct), %s → %s (meshed).\n",
		c.image, b.vs[0].server.Status.PodIP, b.vs[0].client.Status.PodIP, b.vs[1].server.Status.PodIP, b.vs[1].client.Status.PodIP)
	fmt.Fprintf(&w, "- Injected proxy: `%s` from `%s`; on the node: `%s`.\n", res.proxyCommand, res.proxyImage, res.proxyProcess)
	if len(res.shares) > 0 {
		var sh []string
		for name, v := range res.shares {
			sh = append(sh, name+": "+v)
		}
		slices.Sort(sh)
		fmt.Fprintf(&w, "- CPU weight (cgroup v1 cpu.shares, from the pods' CPU requests; a process outside the pods weighs 1024, all pods together %s): %s.\n",
			kubepodsShares(), strings.Join(sh, "; "))
	}
	fmt.Fprintf(&w, "- Benchmark code: %s.\n\n", gitDescribe())
	fmt.Fprintf(&w, "Load: a %v warm-up, then `fortio load -qps %d -c %d -t %v` (keep-alive HTTP/1.1, %d-byte answers) from the client pod (kubectl exec) to the server's pod IP; ",
		c.warmup, c.qps, c.conns, c.duration, c.size)
	if c.bulkTime > 0 {
		fmt.Fprintf(&w, "then a bulk window: fortio at full speed, %d connections, %d-byte answers, %v. ", c.bulkConns, c.bulkSize, c.bulkTime)
	}
	fmt.Fprintf(&w, "%d repetitions, the two paths interleaved (the order alternates). fortio's latency buckets are 10 µs wide up to 0.11 ms, "+
		"20 µs to 0.2 ms, 50 µs to 0.5 ms, 100 µs to 1 ms, 200 µs to 2 ms, 500 µs to 5 ms and 1 ms to 10 ms; quantiles are interpolated in them, means are exact. Processes sampled from /proc every 0.5 s "+
		"(bench/mesh/procmon), found by container ID (pod status) and `ctr task ls`.\n\n", len(rs.reps))

	rs.latencyTable(&w)
	rs.resourceTable(&w)
	if c.bulkTime > 0 {
		rs.bulkTable(&w)
	}
	rs.perRunTable(&w)
	if len(res.startup) > 0 {
		startupTables(&w, res.startup)
	}
	if len(res.counters) > 0 {
		w.WriteString("The meshed pods' proxy counters at the end of the load (smoke test and warm-ups included):\n\n```\n")
		w.WriteString(strings.Join(res.counters, "\n"))
		w.WriteString("\n```\n\n")
	}
	w.WriteString("Commands (in the client pod's app container, `kubectl exec -n <ns> client -c app --`):\n\n```\n")
	v := b.vs[0]
	fmt.Fprintf(&w, "/fortio load -qps %d -c %d -t %v -quiet %s   # warm-up\n", c.qps, c.conns, c.warmup, b.url(v, c.size))
	fmt.Fprintf(&w, "/fortio %s\n", strings.Join(b.latencyArgs(v), " "))
	if c.bulkTime > 0 {
		fmt.Fprintf(&w, "/fortio %s\n", strings.Join(b.bulkArgs(v), " "))
	}
	fmt.Fprintf(&w, "%s --out <file> server-app=<pid> [client-proxy=<pid> server-proxy=<pid>]   # during each window\n", c.procmon)
	w.WriteString("```\n\n")
	if c.command != "" {
		fmt.Fprintf(&w, "Run with `%s`. ", c.command)
	}
	fmt.Fprintf(&w, "Raw results: `%s/runs/r<rep>-<direct|meshed>/`.\n", c.work)
	return os.WriteFile(c.out, []byte(w.String()), 0o644)
}

func (rs *runSet) loads() []string {
	var out []string
	for _, rep := range rs.reps {
		for _, v := range []string{"direct", "meshed"} {
			if r := rs.by[v][rep]; r != nil {
				if f := strings.Fields(r.loadStart); len(f) > 0 {
					out = append(out, f[0])
				}
			}
		}
	}
	return out
}

func (rs *runSet) latencyTable(w *strings.Builder) {
	fmt.Fprintf(w, "### Latency at the fixed rate (medians of %d runs)\n\n", len(rs.reps))
	w.WriteString("| path | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | mean ms | failed requests |\n")
	w.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	cols := []func(*run) float64{
		func(r *run) float64 { return r.q(50) }, func(r *run) float64 { return r.q(90) },
		func(r *run) float64 { return r.q(99) }, func(r *run) float64 { return r.q(99.9) }, (*run).mean,
	}
	for _, v := range []string{"direct", "meshed"} {
		fmt.Fprintf(w, "| %s | %.1f |", v, median(rs.each(v, all(func(r *run) float64 { return r.lat.ActualQPS }))))
		for _, f := range cols {
			fmt.Fprintf(w, " %.3f |", median(rs.each(v, all(f))))
		}
		var n float64
		for _, x := range rs.each(v, all(func(r *run) float64 { return float64(failed(r.lat)) })) {
			n += x
		}
		fmt.Fprintf(w, " %.0f |\n", n)
	}
	w.WriteString("| **meshed − direct** (paired per repetition: median, range) | |")
	for _, f := range cols {
		d := rs.paired(f)
		fmt.Fprintf(w, " **%+.3f**%s |", median(d), spread(d, "%+.3f"))
	}
	w.WriteString(" |\n\n")
}

func (rs *runSet) group(v, name string, bulk bool, f func(procGroup) float64) []float64 {
	return rs.each(v, func(r *run) (float64, bool) {
		s := r.latProc
		if bulk {
			s = r.bulkProc
		}
		g, ok := s.Groups[name]
		return f(g), ok
	})
}

func (rs *runSet) resourceTable(w *strings.Builder) {
	w.WriteString("### CPU and memory at the fixed rate (medians over runs)\n\n")
	w.WriteString("| process | CPU (cores) | waiting for a CPU (µs per request) | RSS steady MiB | of which anon / file MiB | RSS peak MiB | PSS MiB | VmHWM MiB (since start) |\n")
	w.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range []struct{ v, name, label string }{
		{"meshed", "client-proxy", "client-side proxy (meshed)"},
		{"meshed", "server-proxy", "server-side proxy (meshed)"},
		{"direct", "server-app", "fortio server, direct"},
		{"meshed", "server-app", "fortio server, meshed"},
	} {
		get := func(f func(procGroup) float64) float64 { return median(rs.group(row.v, row.name, false, f)) }
		hwm := rs.group(row.v, row.name, false, func(g procGroup) float64 { return mib(g.HWMKiB) })
		wait := rs.each(row.v, func(r *run) (float64, bool) {
			s, ok := r.latWait[row.name]
			n := float64(r.lat.DurationHistogram.Count)
			return s * 1e6 / n, ok && n > 0
		})
		fmt.Fprintf(w, "| %s | %.3f | %.0f | %.1f | %.1f / %.1f | %.1f | %.1f | %.1f |\n", row.label,
			get(func(g procGroup) float64 { return g.Cores }), median(wait),
			get(func(g procGroup) float64 { return mib(g.RSSKiBMedian) }),
			get(func(g procGroup) float64 { return mib(g.AnonKiBMedian) }),
			get(func(g procGroup) float64 { return mib(g.FileKiBMedian) }),
			get(func(g procGroup) float64 { return mib(g.RSSKiBMax) }),
			get(func(g procGroup) float64 { return mib(g.PSSKiBMedian) }),
			slices.Max(append(hwm, 0)))
	}
	w.WriteString("\n")
}

func (rs *runSet) bulkTable(w *strings.Builder) {
	w.WriteString("### Bulk (fortio at full speed, medians over runs)\n\n")
	w.WriteString("| path | MB/s (range) | vs direct | req/s | client proxy CPU (cores) | server proxy CPU (cores) | proxy CPU s per GB (both) | fortio server CPU (cores) | failed requests |\n")
	w.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	direct := median(rs.each("direct", all((*run).bulkMBps)))
	for _, v := range []string{"direct", "meshed"} {
		t := rs.each(v, all((*run).bulkMBps))
		fmt.Fprintf(w, "| %s | %.0f%s | %.2f× | %.0f |", v, median(t), spread(t, "%.0f"), median(t)/direct,
			median(rs.each(v, all(func(r *run) float64 { return r.bulk.ActualQPS }))))
		if v == "direct" {
			w.WriteString(" — | — | — |")
		} else {
			for _, side := range []string{"client-proxy", "server-proxy"} {
				fmt.Fprintf(w, " %.2f |", median(rs.group(v, side, true, func(g procGroup) float64 { return g.Cores })))
			}
			perGB := rs.each(v, func(r *run) (float64, bool) {
				c, okc := r.bulkProc.Groups["client-proxy"]
				s, oks := r.bulkProc.Groups["server-proxy"]
				gb := r.bulkMBps() / 1e3
				return (c.Cores + s.Cores) / gb, okc && oks && gb > 0
			})
			fmt.Fprintf(w, " %.2f |", median(perGB))
		}
		fmt.Fprintf(w, " %.2f |", median(rs.group(v, "server-app", true, func(g procGroup) float64 { return g.Cores })))
		var n float64
		for _, x := range rs.each(v, all(func(r *run) float64 { return float64(failed(r.bulk)) })) {
			n += x
		}
		fmt.Fprintf(w, " %.0f |\n", n)
	}
	w.WriteString("\n")
}

func (rs *runSet) perRunTable(w *strings.Builder) {
	w.WriteString("### Every run\n\n| rep | path | load (1 min) | req/s | p50 ms | p90 ms | p99 ms | mean ms | bulk MB/s |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, rep := range rs.reps {
		for _, v := range []string{"direct", "meshed"} {
			r := rs.by[v][rep]
			if r == nil {
				continue
			}
			la := ""
			if f := strings.Fields(r.loadStart); len(f) > 0 {
				la = f[0]
			}
			fmt.Fprintf(w, "| %d | %s | %s | %.1f | %.3f | %.3f | %.3f | %.3f | %.0f |\n", rep, v, la, r.lat.ActualQPS,
				r.q(50), r.q(90), r.q(99), r.mean(), r.bulkMBps())
		}
	}
	w.WriteString("\n")
}

// --- start-up -------------------------------------------------------------------------------

func seconds(d time.Duration) float64 { return d.Seconds() }

func startupTables(w *strings.Builder, samples []*startSample) {
	by := map[string][]*startSample{}
	for _, s := range samples {
		by[s.variant] = append(by[s.variant], s)
	}
	col := func(v string, f func(*startSample) (time.Duration, bool)) []float64 {
		var out []float64
		for _, s := range by[v] {
			if d, ok := f(s); ok {
				out = append(out, seconds(d))
			}
		}
		return out
	}
	seen := func(m string) func(*startSample) (time.Duration, bool) {
		return func(s *startSample) (time.Duration, bool) { d, ok := s.seen[m]; return d, ok }
	}
	ready := seen("ready")
	call := func(s *startSample) (time.Duration, bool) { return s.createCall, true }
	api := func(s *startSample) (time.Duration, bool) { return s.apiReady, true }

	fmt.Fprintf(w, "### Pod start-up: create → Ready (%d pods per namespace, one at a time, alternating)\n\n", len(by["direct"]))
	w.WriteString("Times in seconds from just before the create call: \"API\" milestones when the watch first showed them (the kubelet's report), " +
		"\"log\" milestones from the containers' own JSON log lines (the process's clock, the same machine). " +
		"\"API Ready − creation\" is the Ready condition's lastTransitionTime minus creationTimestamp (1 s resolution).\n\n")
	w.WriteString("| namespace | pods | create call (median) | create → Ready median | p90 | min–max | API Ready − creation (median) |\n")
	w.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, v := range []string{"direct", "meshed"} {
		r := col(v, ready)
		if len(r) == 0 {
			continue
		}
		label := map[string]string{"direct": "plain", "meshed": "meshed"}[v]
		fmt.Fprintf(w, "| %s | %d | %.3f | %.3f | %.3f | %.3f–%.3f | %.0f |\n", label, len(r), median(col(v, call)),
			median(r), p90(r), slices.Min(r), slices.Max(r), median(col(v, api)))
	}
	dr, mr := col("direct", ready), col("meshed", ready)
	if len(dr) > 0 && len(mr) > 0 {
		fmt.Fprintf(w, "| **meshed − plain** | | %+.3f | **%+.3f** | **%+.3f** | | %+.0f |\n\n",
			median(col("meshed", call))-median(col("direct", call)), median(mr)-median(dr), p90(mr)-p90(dr),
			median(col("meshed", api))-median(col("direct", api)))
	}

	w.WriteString("Where the time goes (medians over the pods, seconds since the create call; \"step\" is the median of each pod's time since the previous milestone):\n\n")
	w.WriteString("| milestone (as the API shows it) | plain | meshed | meshed p90 | meshed step |\n|---|---:|---:|---:|---:|\n")
	what := map[string]string{
		"scheduled":      "API: scheduled (PodScheduled)",
		"capture-rules":  "log: capture's rules installed and verified",
		"capture-done":   "API: capture init container exited 0",
		"proxy-process":  "log: proxy process started",
		"proxy-identity": "log: proxy holds certificate, trust bundle and policy",
		"proxy-running":  "API: proxy sidecar running",
		"proxy-started":  "API: proxy started (startup probe passed)",
		"proxy-ready":    "API: proxy ready (readiness probe)",
		"app-process":    "log: app (fortio) listening",
		"app-running":    "API: app container running",
		"ready":          "API: pod Ready",
	}
	// In the order they happened (medians, meshed): the kubelet reports the app container
	// running only with its next status update, often after the proxy's readiness.
	order := slices.Clone(milestones)
	slices.SortStableFunc(order, func(a, b string) int {
		return cmp.Compare(median(col("meshed", seen(a))), median(col("meshed", seen(b))))
	})
	prev := ""
	for _, m := range order {
		d, mm := col("direct", seen(m)), col("meshed", seen(m))
		if len(mm) == 0 && len(d) == 0 {
			continue
		}
		plain := "—"
		if len(d) > 0 {
			plain = fmt.Sprintf("%.3f", median(d))
		}
		step := "—"
		if prev != "" {
			var steps []float64
			for _, s := range by["meshed"] {
				a, oka := s.seen[prev]
				b, okb := s.seen[m]
				if oka && okb {
					steps = append(steps, seconds(b-a))
				}
			}
			if len(steps) > 0 {
				step = fmt.Sprintf("%+.3f", median(steps))
			}
		}
		fmt.Fprintf(w, "| %s | %s | %.3f | %.3f | %s |\n", what[m], plain, median(mm), p90(mm), step)
		prev = m
	}
	w.WriteString("\nEvery pod (seconds since the create call):\n\n| # | namespace | create call |")
	for _, m := range milestones {
		fmt.Fprintf(w, " %s |", m)
	}
	w.WriteString(" API |\n|---:|---|---:|" + strings.Repeat("---:|", len(milestones)) + "---:|\n")
	for _, s := range samples {
		fmt.Fprintf(w, "| %d | %s | %.3f |", s.i+1, map[string]string{"direct": "plain", "meshed": "meshed"}[s.variant], seconds(s.createCall))
		for _, m := range milestones {
			if d, ok := s.seen[m]; ok {
				fmt.Fprintf(w, " %.3f |", seconds(d))
			} else {
				w.WriteString(" — |")
			}
		}
		fmt.Fprintf(w, " %.0f |\n", seconds(s.apiReady))
	}
	w.WriteString("\n")
}
