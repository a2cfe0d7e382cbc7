package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func (b *bench) url(v *variant, size int) string {
	return fmt.Sprintf("http://%s:%d/echo?size=%d", v.server.Status.PodIP, appPort, size)
}

var requestFrom = regexp.MustCompile(`request from ([0-9.]+)`)

// smoke checks that each path answers and takes the route it should: directly (the server
// sees the client's pod IP) or through both proxies (the server sees 127.0.0.1, its proxy
// allowed the client by the AccessPolicy's rule, the client's proxy dialled over the mesh).
func (b *bench) smoke(ctx context.Context) error {
	for _, v := range b.vs {
		want := v.client.Status.PodIP
		if v.meshed {
			want = "127.0.0.1"
		}
		url := fmt.Sprintf("http://%s:%d/debug", v.server.Status.PodIP, appPort)
		var seen string
		// The client's proxy learns that the server is meshed from the identity service's
		// push; until then its first connections may go out in plain text and be refused.
		deadline := time.Now().Add(time.Minute)
		for {
			var errOut bytes.Buffer
			out, err := b.execFortio(ctx, v, &errOut, "curl", "-quiet", url)
			seen = ""
			if m := requestFrom.FindSubmatch(out); m != nil {
				seen = string(m[1])
			}
			if err == nil && seen == want {
				break
			}
			if ctx.Err() != nil || time.Now().After(deadline) {
				return fmt.Errorf("%s: the server saw %q, want %q (exec: %v, %s)", v.name, seen, want, err, strings.TrimSpace(errOut.String()))
			}
			time.Sleep(500 * time.Millisecond)
		}
		logf("smoke: %s path answers, the server sees %s", v.name, seen)
		if !v.meshed {
			continue
		}
		text, err := metrics(ctx, v.client.Status.PodIP)
		if err != nil {
			return err
		}
		if n := sum(series(text, "outrider_proxy_outbound_connections_total", `kind="mesh"`)); n < 1 {
			return fmt.Errorf("meshed: the client's proxy counted no outbound mesh connection")
		}
		text, err = metrics(ctx, v.server.Status.PodIP)
		if err != nil {
			return err
		}
		var byRule []string
		for _, l := range series(text, "outrider_proxy_authorization_decisions_total", `result="allow"`) {
			if !strings.Contains(l, `rule=""`) {
				byRule = append(byRule, l)
			}
		}
		if sum(byRule) < 1 {
			return fmt.Errorf("meshed: the server's proxy allowed nothing by an AccessPolicy rule:\n%s",
				strings.Join(series(text, "outrider_proxy_authorization_decisions_total"), "\n"))
		}
		logf("smoke: the server's proxy authorizes by rule: %s", byRule[0])
	}
	return nil
}

// measureAll runs every repetition, the variants interleaved (the order alternates).
func (b *bench) measureAll(ctx context.Context) error {
	runs := filepath.Join(b.cfg.work, "runs")
	if err := os.RemoveAll(runs); err != nil {
		return err
	}
	for rep := 1; rep <= b.cfg.runs; rep++ {
		order := slices.Clone(b.vs)
		if rep%2 == 0 {
			slices.Reverse(order)
		}
		for _, v := range order {
			if err := b.measure(ctx, rep, v, filepath.Join(runs, fmt.Sprintf("r%d-%s", rep, v.name))); err != nil {
				return err
			}
		}
	}
	return nil
}

// procmon samples the named processes until stop is called.
type procmon struct {
	cmd *exec.Cmd
	out string
}

func (b *bench) startProcmon(out string, procs map[string]int) (*procmon, error) {
	var args []string
	for name, pid := range procs {
		args = append(args, name+"="+strconv.Itoa(pid))
	}
	slices.Sort(args)
	cmd := exec.Command(b.cfg.procmon, append([]string{"--out", out}, args...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &procmon{cmd: cmd, out: out}, nil
}

func (p *procmon) stop() error {
	if p == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		return fmt.Errorf("procmon: %w", err)
	}
	if _, err := os.Stat(p.out); err != nil {
		return fmt.Errorf("procmon wrote nothing: %w", err)
	}
	return nil
}

// window runs one fortio load with procmon watching procs, and keeps fortio's JSON.
func (b *bench) window(ctx context.Context, v *variant, dir, name string, procs map[string]int, args ...string) error {
	errLog, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return err
	}
	defer errLog.Close()
	mon, err := b.startProcmon(filepath.Join(dir, name+"-proc.json"), procs)
	if err != nil {
		return err
	}
	before := schedWait(procs)
	out, runErr := b.execFortio(ctx, v, errLog, args...)
	after := schedWait(procs)
	if err := mon.stop(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return fmt.Errorf("%s %s: %v (see %s)", v.name, name, runErr, errLog.Name())
	}
	var probe fortioResult
	if err := json.Unmarshal(out, &probe); err != nil {
		return fmt.Errorf("%s %s: fortio's JSON: %v (see %s)", v.name, name, err, errLog.Name())
	}
	wait := map[string]float64{}
	for n := range procs {
		wait[n] = (after[n] - before[n]).Seconds()
	}
	sched, err := json.Marshal(wait)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+"-wait.json"), sched, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".json"), out, 0o644)
}

// schedWait is, per named process, the time its threads have spent runnable but waiting for
// a CPU (the second field of /proc/<pid>/task/<tid>/schedstat, summed): on a busy node, how
// long each hop waited for the scheduler.
func schedWait(procs map[string]int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range procs {
		files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if fields := strings.Fields(string(b)); len(fields) >= 2 {
				if ns, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
					out[name] += time.Duration(ns)
				}
			}
		}
	}
	return out
}

// measure runs the warm-up, the fixed-rate window and the bulk window on one path.
func (b *bench) measure(ctx context.Context, rep int, v *variant, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Looked up for every window: a restarted container would have a new process.
	procs, err := b.processes(ctx, v)
	if err != nil {
		return err
	}
	c := b.cfg
	if err := os.WriteFile(filepath.Join(dir, "loadavg-start"), []byte(loadavg()+"\n"), 0o644); err != nil {
		return err
	}
	var warm bytes.Buffer
	if _, err := b.execFortio(ctx, v, &warm, "load", "-qps", strconv.Itoa(c.qps), "-c", strconv.Itoa(c.conns), "-t", c.warmup.String(), "-quiet", b.url(v, c.size)); err != nil {
		return fmt.Errorf("%s warm-up: %v: %s", v.name, err, warm.String())
	}
	if err := b.window(ctx, v, dir, "fortio", procs, b.latencyArgs(v)...); err != nil {
		return err
	}
	if c.bulkTime > 0 {
		if err := b.window(ctx, v, dir, "bulk", procs, b.bulkArgs(v)...); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "loadavg-end"), []byte(loadavg()+"\n"), 0o644); err != nil {
		return err
	}
	r, err := loadRun(dir, rep, v.name)
	if err != nil {
		return err
	}
	if n, m := failed(r.lat), failed(r.bulk); n+m > 0 {
		logf("WARNING: run %d %s: %d failed requests at the fixed rate, %d in the bulk window (see %s)", rep, v.name, n, m, dir)
	}
	logf("run %d/%d %s: %.0f req/s, p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, bulk %.0f MB/s, load %s", rep, c.runs, v.name,
		r.lat.ActualQPS, r.q(50), r.q(90), r.q(99), r.bulkMBps(), loadavg())
	return nil
}

func (b *bench) latencyArgs(v *variant) []string {
	c := b.cfg
	return []string{"load", "-qps", strconv.Itoa(c.qps), "-c", strconv.Itoa(c.conns), "-t", c.duration.String(),
		"-jitter", "-r", "0.00001", "-p", "50,90,99,99.9", "-quiet", "-json", "-", b.url(v, c.size)}
}

func (b *bench) bulkArgs(v *variant) []string {
	c := b.cfg
	// fortio's own HTTP client reads an answer into one buffer (128 KiB by default): make room.
	return []string{"load", "-qps", "-1", "-c", strconv.Itoa(c.bulkConns), "-t", c.bulkTime.String(),
		"-httpbufferkb", strconv.Itoa(c.bulkSize>>10 + 16), "-quiet", "-json", "-", b.url(v, c.bulkSize)}
}
