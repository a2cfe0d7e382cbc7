// Command loadgen measures Outrider's admission webhook under a fixed rate of pod creations
// through the real API server (make bench-admission, bench/README.md).
//
// For each rate it creates pods open loop (request i at start+i/rate) with server-side
// dry-run: the API server runs the whole admission chain, Outrider's mutating and validating
// webhooks included (both declare sideEffects NoneOnDryRun), and persists nothing, so 12,000
// pods do not swamp a 2-core node. A share of the pods (10%) is non-compliant and refused, so
// both verdict paths are measured. Before and after each measured window it scrapes the API
// server's /metrics and every controller pod's /metrics and reports quantiles of the histogram
// deltas, the client-side latency of every request, and the controller's CPU and memory.
//
// With --baseline it first runs the same load in a namespace excluded from Outrider's
// webhooks (it adds that namespace to the webhooks' namespaceSelector for the run and removes
// it again on exit, also on SIGINT/SIGTERM), so the difference is what the webhooks add.
//
// With --signatures it also runs the image-signature scenario (signatures.go): signed images
// pushed to the local registry, a SecurityPolicy requiring them signed, and pods naming one
// verified image (warm), a new image each (cold) or one new image at once (burst), beside
// plain pods; the controller's registry and cache counters per window; and the cosign CLI
// and `outrider image verify` timed on the same signatures (peers.go). --rates= skips the
// fixed-rate runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

type bench struct {
	cs          kubernetes.Interface
	dyn         dynamic.Interface
	image       string
	badShare    float64
	inflight    int
	metricsPort int
	ctrlNS      string
	ctrlDeploy  string
	ctrlSel     string
	sampleEvery time.Duration
	warnings    *warningCounter
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-admission: "+format+"\n", args...)
}

func main() {
	if err := run(); err != nil {
		logf("ERROR: %v", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		kubeconfig = flag.String("kubeconfig", ".outrider/kubeconfig", "admin kubeconfig of the cluster")
		ratesFlag  = flag.String("rates", "50,200", "comma-separated pod creations per second, one measured run each")
		duration   = flag.Duration("duration", 60*time.Second, "measured window per rate")
		warmup     = flag.Duration("warmup", 5*time.Second, "load at the same rate before each window, discarded")
		baseline   = flag.Bool("baseline", true, "also run each rate in a namespace Outrider's webhooks do not select")
		out        = flag.String("out", "", "also write the markdown report to this file")
		command    = flag.String("command", "", "the command line to quote in the report (default: this one)")
		signatures = flag.Bool("signatures", false, "also run the image-signature scenario (plain, warm, cold, burst; CLI peers)")
		b          = bench{}
		sig        = sigConfig{}
	)
	flag.StringVar(&b.image, "image", "127.0.0.1:5000/busybox:outrider", "image of the created pods")
	flag.Float64Var(&b.badShare, "bad-share", 0.10, "share of non-compliant pods (refused by the policy)")
	flag.IntVar(&b.inflight, "inflight", 64, "most requests outstanding at once; beyond it a request is skipped and counted")
	flag.IntVar(&b.metricsPort, "metrics-port", 8080, "controller pods' metrics port")
	flag.StringVar(&b.ctrlNS, "controller-namespace", "outrider-system", "namespace of the controller")
	flag.StringVar(&b.ctrlDeploy, "controller-deployment", "outrider-controller", "the controller's Deployment")
	flag.StringVar(&b.ctrlSel, "controller-selector", "app.kubernetes.io/name=outrider,app.kubernetes.io/component=controller", "label selector of the controller pods")
	flag.DurationVar(&b.sampleEvery, "sample-every", 5*time.Second, "controller CPU/RSS sampling period during a window")
	flag.StringVar(&sig.registry, "sig-registry", "127.0.0.1:5000", "signatures: registry to push the signed images to, as pods name it")
	flag.IntVar(&sig.warmRate, "sig-warm-rate", 50, "signatures: pod creations per second of the plain and warm phases")
	flag.DurationVar(&sig.warmDuration, "sig-warm-duration", 30*time.Second, "signatures: measured window of the plain and warm phases (after --warmup)")
	flag.IntVar(&sig.coldRate, "sig-cold-rate", 20, "signatures: pod creations per second of the cold phase, each naming a new image")
	flag.DurationVar(&sig.coldWarmup, "sig-cold-warmup", 2*time.Second, "signatures: warm-up of the cold phase (new images too)")
	flag.DurationVar(&sig.coldDuration, "sig-cold-duration", 15*time.Second, "signatures: measured window of the cold phase")
	flag.IntVar(&sig.burst, "sig-burst", 50, "signatures: pods naming one new image sent at once (0 skips)")
	flag.IntVar(&sig.peerImages, "sig-peer-images", 20, "signatures: images each CLI verifies, one after another")
	flag.StringVar(&sig.cosign, "cosign", "bin/tools/cosign", "signatures: the cosign binary timed as a peer (\"\" skips it)")
	flag.StringVar(&sig.outrider, "outrider", "bin/outrider", "signatures: the outrider binary whose `image verify` is timed (\"\" skips it)")
	flag.IntVar(&sig.pushWorkers, "sig-push-workers", 8, "signatures: images pushed and signed at once")
	flag.Parse()

	var rates []int
	for _, f := range strings.FieldsFunc(*ratesFlag, func(r rune) bool { return r == ',' }) {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r <= 0 || r > 5000 {
			return fmt.Errorf("bad rate %q", f)
		}
		rates = append(rates, r)
	}
	if *duration <= 0 || *duration > 30*time.Minute || *warmup < 0 {
		return fmt.Errorf("--duration must be in (0, 30m] and --warmup >= 0")
	}
	if b.badShare < 0 || b.badShare > 1 || b.inflight < 1 {
		return fmt.Errorf("--bad-share must be in [0,1] and --inflight >= 1")
	}
	if len(rates) == 0 && !*signatures {
		return fmt.Errorf("nothing to run: --rates is empty and --signatures is off")
	}
	if *signatures {
		if sig.warmRate <= 0 || sig.coldRate <= 0 || sig.warmDuration <= 0 || sig.coldDuration <= 0 || sig.coldWarmup < 0 ||
			sig.burst < 0 || sig.burst > b.inflight || sig.peerImages < 0 || sig.pushWorkers < 1 {
			return fmt.Errorf("bad --sig-* setting (rates and durations > 0, --sig-burst <= --inflight)")
		}
		if n := planned(sig.coldRate, sig.coldWarmup+sig.coldDuration); n > 5000 {
			return fmt.Errorf("the cold phase needs %d distinct images: lower --sig-cold-rate or --sig-cold-duration", n)
		}
		for _, bin := range []*string{&sig.cosign, &sig.outrider} {
			if *bin == "" {
				continue
			}
			abs, err := filepath.Abs(*bin)
			if err != nil {
				return err
			}
			if _, err := os.Stat(abs); err != nil {
				return fmt.Errorf("peer binary: %w (make bin/tools/cosign build; or pass \"\" to skip it)", err)
			}
			*bin = abs
		}
	}
	if *command == "" {
		*command = strings.Join(os.Args, " ")
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	// The client's own rate limiter must not be what limits the rate.
	cfg.QPS, cfg.Burst = 1000, 1000
	cfg.UserAgent = "outrider-bench-admission"
	b.warnings = &warningCounter{}
	cfg.WarningHandler = b.warnings
	b.cs, err = kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if b.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }() // a second signal kills at once

	rep := &report{
		command: *command, started: time.Now(), loadStart: loadavg(), machine: machineInfo(),
		duration: *duration, warmup: *warmup, badShare: b.badShare, inflight: b.inflight, image: b.image,
	}
	if v, err := b.cs.Discovery().ServerVersion(); err == nil {
		rep.server = v.GitVersion
	}
	if d, err := b.cs.AppsV1().Deployments(b.ctrlNS).Get(ctx, b.ctrlDeploy, metav1.GetOptions{}); err == nil && len(d.Spec.Template.Spec.Containers) > 0 {
		rep.ctrlImage = d.Spec.Template.Spec.Containers[0].Image
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Resources.Limits.Cpu() != nil && !c.Resources.Limits.Cpu().IsZero() {
				rep.ctrlCPULimit = c.Resources.Limits.Cpu().String()
			}
		}
	} else if err != nil {
		return fmt.Errorf("the Outrider controller is not installed (%s/%s): %w", b.ctrlNS, b.ctrlDeploy, err)
	}

	cleanupStale(ctx, b.cs)
	suffix := fmt.Sprintf("%d-%04x", time.Now().Unix()%100000, rand.IntN(0x10000))
	nsHook, nsBase := "", ""
	if len(rates) > 0 {
		nsHook = "bench-admission-" + suffix
		if err := createNamespace(ctx, b.cs, nsHook); err != nil {
			return err
		}
		defer deleteNamespace(b.cs, nsHook)
		logf("namespace %s (selected by Outrider's webhooks)", nsHook)
	}
	if *baseline && len(rates) > 0 {
		nsBase = "bench-admission-base-" + suffix
		if err := createNamespace(ctx, b.cs, nsBase); err != nil {
			return err
		}
		defer deleteNamespace(b.cs, nsBase)
		defer restoreSelectors(b.cs, nsBase)
		if err := b.exclude(ctx, nsBase); err != nil {
			return err
		}
		logf("namespace %s (excluded from Outrider's webhooks for the baseline; restored on exit)", nsBase)
	}

	for _, rate := range rates {
		if nsBase != "" {
			// Again before every baseline run: someone may have re-applied the webhook
			// configuration (helm upgrade, make up) and dropped the exclusion.
			if err := b.exclude(ctx, nsBase); err != nil {
				return err
			}
			p, err := b.phase(ctx, "baseline", nsBase, rate, *warmup, *duration, false, oneImage(b.image, b.badShare))
			if err != nil {
				return err
			}
			if !b.stillExcluded(ctx, nsBase) {
				p.note("the webhook configuration was re-applied during the window and lost the baseline namespace's exclusion: the baseline is contaminated")
			}
			rep.phases = append(rep.phases, p)
			logf("%s", p.oneLine())
		}
		p, err := b.phase(ctx, "webhook", nsHook, rate, *warmup, *duration, true, oneImage(b.image, b.badShare))
		if err != nil {
			return err
		}
		rep.phases = append(rep.phases, p)
		logf("%s", p.oneLine())
	}
	if *signatures {
		if rep.sig, err = b.runSignatures(ctx, sig, suffix, *warmup); err != nil {
			return fmt.Errorf("signature scenario: %w", err)
		}
	}
	rep.finished, rep.loadEnd = time.Now(), loadavg()

	text := rep.markdown()
	fmt.Print(text)
	if *out != "" {
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
			return err
		}
		logf("report written to %s", *out)
	}
	if rep.failed() {
		return fmt.Errorf("requests failed (see the errors column): the numbers above are not a clean measurement")
	}
	return nil
}

// webhooks are Outrider's webhooks that judge pod creations.
var webhooks = []webhookRef{
	{mutating: true, config: "outrider-mutating", webhook: "workloads.mutate.outrider.dev"},
	{mutating: false, config: "outrider-validating", webhook: "workloads.validate.outrider.dev"},
}

func restoreSelectors(cs kubernetes.Interface, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, w := range webhooks {
		if err := includeNamespaces(ctx, cs, w, func(v string) bool { return v == ns }); err != nil {
			logf("WARNING: could not remove %s from the namespaceSelector of %s: %v (remove it by hand)", ns, w, err)
		}
	}
}

// cleanupStale removes what a killed earlier run left: our namespaces older than 30 minutes
// (a run takes a few), and selector exclusions of bench namespaces that no longer exist.
func cleanupStale(ctx context.Context, cs kubernetes.Interface) {
	l, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: benchLabelKey + "=" + benchLabelVal})
	if err == nil {
		for _, ns := range l.Items {
			if ns.DeletionTimestamp == nil && time.Since(ns.CreationTimestamp.Time) > 30*time.Minute {
				logf("deleting namespace %s left by an earlier run", ns.Name)
				deleteNamespace(cs, ns.Name)
			}
		}
	}
	for _, w := range webhooks {
		err := includeNamespaces(ctx, cs, w, func(v string) bool {
			if !strings.HasPrefix(v, "bench-admission-") {
				return false
			}
			_, err := cs.CoreV1().Namespaces().Get(ctx, v, metav1.GetOptions{})
			return err != nil
		})
		if err != nil {
			logf("WARNING: checking %s for stale exclusions: %v", w, err)
		}
	}
}

// exclude takes ns out of Outrider's pod webhooks and waits until the API server obeys.
func (b *bench) exclude(ctx context.Context, ns string) error {
	for _, w := range webhooks {
		if err := excludeNamespace(ctx, b.cs, w, ns); err != nil {
			return fmt.Errorf("excluding %s from %s: %w", ns, w, err)
		}
	}
	return b.waitExcluded(ctx, ns)
}

// stillExcluded reports whether the validating webhook's selector still names ns.
func (b *bench) stillExcluded(ctx context.Context, ns string) bool {
	c, err := b.cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "outrider-validating", metav1.GetOptions{})
	if err != nil {
		return false
	}
	for _, h := range c.Webhooks {
		if h.Name == "workloads.validate.outrider.dev" && h.NamespaceSelector != nil {
			for _, e := range h.NamespaceSelector.MatchExpressions {
				if e.Key == nsNameKey && e.Operator == metav1.LabelSelectorOpNotIn && slices.Contains(e.Values, ns) {
					return true
				}
			}
		}
	}
	return false
}

// waitExcluded waits until the API server stops calling the validating webhook for ns: a
// non-compliant pod is then admitted there. The API server picks up webhook configuration
// changes from a watch, so this takes a moment.
func (b *bench) waitExcluded(ctx context.Context, ns string) error {
	pod := nonCompliantPod(b.image)
	pod.Name = "bench-probe"
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := b.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("the webhook still judges namespace %s after the selector change: %w", ns, err)
	}
	return nil
}

// phase is one rate in one mode: warm-up, scrape, measured window (with periodic controller
// samples), scrape.
func (b *bench) phase(ctx context.Context, mode, ns string, rate int, warmup, d time.Duration, webhookOn bool, mix podMix) (*phaseResult, error) {
	replicas, err := waitControllerReady(ctx, b.cs, b.ctrlNS, b.ctrlDeploy, 3*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("controller %s/%s not ready: %w", b.ctrlNS, b.ctrlDeploy, err)
	}
	pods, err := controllerPods(ctx, b.cs, b.ctrlNS, b.ctrlSel)
	if err != nil || len(pods) == 0 {
		return nil, fmt.Errorf("listing controller pods: %v (found %d)", err, len(pods))
	}
	tag := fmt.Sprintf("%s-%d", mode[:1], rate)
	p := &phaseResult{mode: mode, rate: rate, replicas: replicas, pods: pods, judged: webhookOn}
	if warmup > 0 {
		logf("%s %d/s: warm-up %s", mode, rate, warmup)
		w := b.load(ctx, ns, tag+"w", rate, warmup, webhookOn, mix)
		mix = mix.from(w.planned)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	logf("%s %d/s: measuring %s in %s", mode, rate, d, ns)
	warnBefore := b.warnings.n.Load()
	p.before = b.snapshot(ctx, pods, true)
	stopSampling := make(chan struct{})
	sampled := make(chan []snapshot)
	go func() {
		var ss []snapshot
		t := time.NewTicker(b.sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				sampled <- ss
				return
			case <-t.C:
				ss = append(ss, b.snapshot(ctx, pods, false))
			}
		}
	}()
	p.load = b.load(ctx, ns, tag, rate, d, webhookOn, mix)
	close(stopSampling)
	p.samples = <-sampled
	p.after = b.snapshot(ctx, pods, true)
	p.warnings = b.warnings.n.Load() - warnBefore
	if f := b.warnings.first.Load(); f != nil {
		p.warningExample = *f
	}
	p.loadavg = loadavg()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if now, err := controllerPods(ctx, b.cs, b.ctrlNS, b.ctrlSel); err == nil && !samePods(pods, now) {
		p.notes = append(p.notes, fmt.Sprintf("the controller pods changed during the window (%s -> %s): "+
			"someone restarted or scaled the controller; rerun for a clean figure", podNames(pods), podNames(now)))
	}
	p.derive()
	return p, nil
}

func samePods(a, b []controllerPod) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].uid != b[i].uid {
			return false
		}
	}
	return true
}

func podNames(ps []controllerPod) string {
	var n []string
	for _, p := range ps {
		n = append(n, p.name)
	}
	return strings.Join(n, ",")
}
