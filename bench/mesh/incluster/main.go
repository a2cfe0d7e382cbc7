// Command incluster is the in-cluster variant of the mesh benchmark (make bench-mesh-cluster,
// bench/README.md): fortio pod to fortio pod over the local cluster's bridge, once in a plain
// namespace (direct) and once in a meshed one (both pods injected with the capture init
// container and the proxy sidecar, an AccessPolicy allowing the client's ServiceAccount to
// the server), and the pod start-up delay that injection adds.
//
// Steps:
//
//  1. Two namespaces, bench-mesh-<id>-plain and bench-mesh-<id>-meshed (the second labelled
//     security.outrider.dev/mesh=enabled), ServiceAccounts client, server and startup in
//     each, the AccessPolicy in the meshed one, and in each a server pod (fortio server) and a
//     client pod (fortio server too, idle: `fortio load` is run in it with kubectl exec).
//     Every pod meets the restricted policy: UID 65532, no capabilities, read-only root with
//     an emptyDir on /tmp, requests and a memory limit.
//  2. A smoke test per namespace: the server sees the client's pod IP (direct) or 127.0.0.1
//     (meshed: forwarded by its proxy); the client's proxy counted an outbound mesh connection
//     and the server's proxy allowed it by the AccessPolicy's rule.
//  3. --runs repetitions, the two variants interleaved (the order alternates): a --warmup
//     fortio run, then `fortio load -qps 1000 -c 16 -t 30s` to the server's pod IP, then a
//     bulk window (fortio at full speed with --bulk-size answers over --bulk-conns
//     connections). During each window bench/mesh/procmon samples the two proxies (meshed)
//     and the server's fortio, found by container ID (pod status) and `ctr task ls`.
//  4. Start-up: --startup-pods identical pods per namespace, one at a time, plain and meshed
//     alternating, each watched from just before its create call until Ready, then deleted
//     (and gone) before the next. The watch stamps every milestone with the local clock.
//  5. The results (Markdown) go to --out, raw files under --work; the namespaces are deleted
//     on exit, on SIGINT and SIGTERM. A run killed with SIGKILL leaves them in --work/active,
//     and the next run deletes them.
//
// Needs root (it reads the proxies' /proc entries and asks containerd for their PIDs, read
// only).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-mesh-cluster: "+format+"\n", args...)
}

// config is the command line.
type config struct {
	kubeconfig, kubectl, image, procmon, socket string
	work, out, command                          string
	runs, qps, conns, size                      int
	duration, warmup, bulkTime                  time.Duration
	bulkConns, bulkSize, startupPods            int
}

func main() {
	var c config
	flag.StringVar(&c.kubeconfig, "kubeconfig", ".outrider/kubeconfig", "the local cluster's admin kubeconfig")
	flag.StringVar(&c.kubectl, "kubectl", ".outrider/bin/kubectl", "kubectl (for exec)")
	flag.StringVar(&c.image, "image", "", "the fortio image, pinned by digest (127.0.0.1:5000/fortio@sha256:…)")
	flag.StringVar(&c.procmon, "procmon", "bench/_out/mesh/bin/procmon", "bench/mesh/procmon, built")
	flag.StringVar(&c.socket, "containerd-socket", "/run/outrider-cluster/containerd/containerd.sock", "the cluster's containerd (ctr task ls, read only)")
	flag.StringVar(&c.work, "work", "bench/_out/mesh-cluster", "directory for raw results and the run's state")
	flag.StringVar(&c.out, "out", "bench/_out/mesh-cluster-results.md", "the Markdown results")
	flag.StringVar(&c.command, "command", "", "the command line to record in the results")
	flag.IntVar(&c.runs, "runs", 3, "repetitions of each variant (medians are reported)")
	flag.IntVar(&c.qps, "qps", 1000, "fixed request rate")
	flag.IntVar(&c.conns, "conns", 16, "fortio connections at the fixed rate")
	flag.DurationVar(&c.duration, "duration", 30*time.Second, "latency window")
	flag.DurationVar(&c.warmup, "warmup", 3*time.Second, "fortio warm-up before each window (not recorded)")
	flag.IntVar(&c.size, "size", 1024, "answer bytes at the fixed rate")
	flag.DurationVar(&c.bulkTime, "bulk-time", 10*time.Second, "bulk window (0: none)")
	flag.IntVar(&c.bulkConns, "bulk-conns", 4, "connections in the bulk window")
	flag.IntVar(&c.bulkSize, "bulk-size", 1<<20, "answer bytes in the bulk window (at most 1 MiB: the server's -maxpayloadsizekb)")
	flag.IntVar(&c.startupPods, "startup-pods", 10, "pods per namespace in the start-up measurement (0: none)")
	flag.Parse()
	if c.image == "" {
		fmt.Fprintln(os.Stderr, "bench-mesh-cluster: --image is required")
		os.Exit(2)
	}
	if c.bulkSize > serverMaxPayloadKiB<<10 {
		fmt.Fprintf(os.Stderr, "bench-mesh-cluster: --bulk-size is at most %d\n", serverMaxPayloadKiB<<10)
		os.Exit(2)
	}
	if err := execute(c); err != nil {
		logf("ERROR: %v", err)
		os.Exit(1)
	}
}

func execute(c config) error {
	rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return err
	}
	rc.QPS, rc.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.work, 0o755); err != nil {
		return err
	}
	b := &bench{cfg: c, cs: cs, dyn: dyn, state: filepath.Join(c.work, "active")}
	if err := b.cleanStale(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	defer b.cleanup()

	b.res.date = time.Now().UTC()
	b.res.loadStart = loadavg()
	if err := b.setUp(ctx); err != nil {
		return err
	}
	if err := b.smoke(ctx); err != nil {
		return err
	}
	if err := b.measureAll(ctx); err != nil {
		return err
	}
	b.res.counters = b.proxyCounters(ctx)
	if c.startupPods > 0 {
		if err := b.startupAll(ctx); err != nil {
			return err
		}
	}
	b.res.loadEnd = loadavg()
	b.res.end = time.Now().UTC()
	if err := b.writeResults(); err != nil {
		return err
	}
	out, err := os.ReadFile(c.out)
	if err == nil {
		fmt.Print(string(out))
	}
	return err
}

// loadavg is the 1, 5 and 15 min load average.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
