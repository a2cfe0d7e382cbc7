// Command report turns the raw results of the mesh benchmark (make bench-mesh,
// bench/README.md) into the Markdown tables of bench/_out/mesh-results.md: latency quantiles
// and what each proxy pair adds to the direct path, each proxy's CPU and memory at the fixed
// rate, bulk throughput, the targets, and every run.
//
// It reads --runs, one directory per run named r<rep>-<variant> holding:
//
//	fortio.json       fortio load -json at the fixed rate
//	fortio-proc.json  procmon over that window (groups <variant>-client, <variant>-server)
//	iperf.json        iperf3 -J bulk test
//	iperf-proc.json   procmon over that window
//
// Added latency is paired: for each repetition, the variant's quantile minus the direct
// path's quantile measured in the same repetition; the table shows the median of those
// differences, so slow drifts of the shared machine's load cancel out.
//
// Usage: report --runs DIR [--variants direct,outrider,haproxy,nginx]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	runs := flag.String("runs", "", "directory of r<rep>-<variant> run directories")
	variants := flag.String("variants", "direct,outrider,haproxy,nginx", "variants, in table order; the first is the baseline")
	flag.Parse()
	rs, err := load(*runs, strings.Split(*variants, ","))
	if err == nil {
		err = render(os.Stdout, rs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// fortio is the part of fortio's JSON result used here.
type fortio struct {
	ActualQPS         float64
	DurationHistogram struct {
		Count       int64
		Avg         float64
		Percentiles []struct{ Percentile, Value float64 }
	}
	RetCodes map[string]int64
}

// iperf is the part of iperf3's JSON result used here.
type iperf struct {
	End struct {
		SumReceived struct {
			Bytes   float64 `json:"bytes"`
			Seconds float64 `json:"seconds"`
		} `json:"sum_received"`
		SumSent struct {
			Retransmits int64 `json:"retransmits"`
		} `json:"sum_sent"`
	} `json:"end"`
	Error string `json:"error"`
}

// procGroup is one proxy in a procmon summary (see bench/mesh/procmon).
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
	rep       int
	variant   string
	lat       fortio
	latProc   procSummary
	bulk      iperf
	bulkProc  procSummary
	errors    int64 // non-200 responses and failed requests
	quantiles map[float64]float64
}

// results are all runs, by variant and repetition.
type results struct {
	variants []string
	reps     []int
	runs     map[string]map[int]*run
}

var runDir = regexp.MustCompile(`^r(\d+)-([a-z0-9]+)$`)

func load(dir string, variants []string) (*results, error) {
	if dir == "" {
		return nil, fmt.Errorf("--runs is required")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	rs := &results{variants: variants, runs: map[string]map[int]*run{}}
	for _, v := range variants {
		rs.runs[v] = map[int]*run{}
	}
	for _, e := range entries {
		m := runDir.FindStringSubmatch(e.Name())
		if m == nil || rs.runs[m[2]] == nil {
			continue
		}
		rep, _ := strconv.Atoi(m[1])
		r, err := loadRun(filepath.Join(dir, e.Name()), rep, m[2])
		if err != nil {
			return nil, err
		}
		rs.runs[m[2]][rep] = r
		if !slices.Contains(rs.reps, rep) {
			rs.reps = append(rs.reps, rep)
		}
	}
	slices.Sort(rs.reps)
	if len(rs.reps) == 0 {
		return nil, fmt.Errorf("no runs in %s", dir)
	}
	return rs, nil
}

func loadRun(dir string, rep int, variant string) (*run, error) {
	r := &run{rep: rep, variant: variant, quantiles: map[float64]float64{}}
	for name, into := range map[string]any{
		"fortio.json": &r.lat, "fortio-proc.json": &r.latProc,
		"iperf.json": &r.bulk, "iperf-proc.json": &r.bulkProc,
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) && strings.HasSuffix(name, "proc.json") && variant == "direct" {
			continue // no proxy to watch
		}
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, into); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", dir, name, err)
		}
	}
	for _, p := range r.lat.DurationHistogram.Percentiles {
		r.quantiles[p.Percentile] = p.Value
	}
	var ok int64
	for code, n := range r.lat.RetCodes {
		if code == "200" {
			ok += n
		}
	}
	r.errors = r.lat.DurationHistogram.Count - ok
	return r, nil
}

// bulkMBps is the receiver's throughput in MB/s (10^6 bytes).
func (r *run) bulkMBps() float64 {
	s := r.bulk.End.SumReceived
	if s.Seconds == 0 {
		return 0
	}
	return s.Bytes / s.Seconds / 1e6
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// each collects f over the runs of one variant, in repetition order.
func (rs *results) each(variant string, f func(*run) (float64, bool)) []float64 {
	var out []float64
	for _, rep := range rs.reps {
		if r := rs.runs[variant][rep]; r != nil {
			if v, ok := f(r); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// added collects, per repetition, variant's value minus the baseline's in that repetition.
func (rs *results) added(variant string, f func(*run) float64) []float64 {
	base := rs.variants[0]
	var out []float64
	for _, rep := range rs.reps {
		r, b := rs.runs[variant][rep], rs.runs[base][rep]
		if r != nil && b != nil {
			out = append(out, f(r)-f(b))
		}
	}
	return out
}
