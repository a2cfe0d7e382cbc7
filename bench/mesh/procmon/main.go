// Command procmon samples the CPU time and memory of a few processes over a measurement window
// for the mesh benchmark (make bench-mesh, bench/README.md). Each NAME=PID argument is one
// proxy: the process and its descendants (nginx's workers under its master), summed.
//
// It reads /proc at start, every --interval, and when it is stopped (SIGINT or SIGTERM, or
// after --duration), then writes one JSON object to --out:
//
//	{"wallSeconds": 30.0, "groups": {"outrider-client": {"pids": [123], "cpuSeconds": 3.1,
//	 "cores": 0.103, "rssKiBMedian": 14000, "rssKiBMax": 14500, "pssKiBMedian": 13000,
//	 "hwmKiB": 15100, "samples": 60}}}
//
// The fields:
//   - cpuSeconds: utime+stime consumed during the window (all threads, all processes);
//     cores is that over the wall time (1.0 = one core busy).
//   - rssKiB*: VmRSS summed over the group, per sample: the steady value is the median, the
//     peak the largest sample. anonKiBMedian and fileKiBMedian split the steady RSS into
//     anonymous memory (heap, stacks) and mapped file pages (executable, libraries).
//   - pssKiBMedian: Pss from smaps_rollup, summed: pages shared between nginx's master and
//     workers (the binary, libssl) count once, not once per process.
//   - hwmKiB: VmHWM summed at the end: each process's peak RSS since it started, which
//     covers earlier windows too.
//
// Usage: procmon --out FILE [--interval 500ms] [--duration 0] NAME=PID...
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	out := flag.String("out", "", "file to write the JSON summary to")
	interval := flag.Duration("interval", 500*time.Millisecond, "sampling interval")
	duration := flag.Duration("duration", 0, "stop after this long (0: until SIGINT/SIGTERM)")
	flag.Parse()
	if err := run(*out, *interval, *duration, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "procmon:", err)
		os.Exit(1)
	}
}

// summary is what procmon writes.
type summary struct {
	WallSeconds float64                  `json:"wallSeconds"`
	Groups      map[string]*groupSummary `json:"groups"`
}

type groupSummary struct {
	PIDs          []int   `json:"pids"`
	CPUSeconds    float64 `json:"cpuSeconds"`
	Cores         float64 `json:"cores"`
	RSSKiBMedian  int64   `json:"rssKiBMedian"`
	RSSKiBMax     int64   `json:"rssKiBMax"`
	AnonKiBMedian int64   `json:"anonKiBMedian"`
	FileKiBMedian int64   `json:"fileKiBMedian"`
	PSSKiBMedian  int64   `json:"pssKiBMedian"`
	HWMKiB        int64   `json:"hwmKiB"`
	Samples       int     `json:"samples"`
}

// group is one named process tree being sampled.
type group struct {
	name                 string
	root                 int
	start                float64 // CPU seconds at the start
	rss, anon, file, pss []int64
}

func parseGroups(args []string) ([]*group, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("name at least one NAME=PID")
	}
	var groups []*group
	for _, a := range args {
		name, pidStr, ok := strings.Cut(a, "=")
		pid, err := strconv.Atoi(pidStr)
		if !ok || name == "" || err != nil || pid <= 0 {
			return nil, fmt.Errorf("argument %q: want NAME=PID", a)
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return nil, fmt.Errorf("%s: process %d: %w", name, pid, err)
		}
		groups = append(groups, &group{name: name, root: pid})
	}
	return groups, nil
}

func run(out string, interval, duration time.Duration, args []string) error {
	if out == "" {
		return fmt.Errorf("--out is required")
	}
	groups, err := parseGroups(args)
	if err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	var deadline <-chan time.Time
	if duration > 0 {
		deadline = time.After(duration)
	}
	start := time.Now()
	for _, g := range groups {
		g.start = cpuSeconds(tree(g.root))
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-tick.C:
			for _, g := range groups {
				g.sample()
			}
		case <-stop:
			done = true
		case <-deadline:
			done = true
		}
	}
	wall := time.Since(start).Seconds()
	s := summary{WallSeconds: wall, Groups: map[string]*groupSummary{}}
	for _, g := range groups {
		s.Groups[g.name] = g.summarize(wall)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

func (g *group) sample() {
	var m memory
	for _, pid := range tree(g.root) {
		m.add(readMemory(pid))
	}
	if m.rss > 0 {
		g.rss = append(g.rss, m.rss)
		g.anon = append(g.anon, m.anon)
		g.file = append(g.file, m.file)
		g.pss = append(g.pss, m.pss)
	}
}

func (g *group) summarize(wall float64) *groupSummary {
	pids := tree(g.root)
	end := cpuSeconds(pids)
	var m memory
	for _, pid := range pids {
		m.add(readMemory(pid))
	}
	cpu := end - g.start
	return &groupSummary{
		PIDs:          pids,
		CPUSeconds:    cpu,
		Cores:         cpu / wall,
		RSSKiBMedian:  median(g.rss),
		RSSKiBMax:     maxOf(g.rss),
		AnonKiBMedian: median(g.anon),
		FileKiBMedian: median(g.file),
		PSSKiBMedian:  median(g.pss),
		HWMKiB:        m.hwm,
		Samples:       len(g.rss),
	}
}

func median(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func maxOf(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	return slices.Max(v)
}
