package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// The limits a cold admission must stay well inside: the API server's timeout for each
// Outrider webhook, and the controller's bound on one registry request (--registry-timeout).
const (
	webhookTimeout  = 5 * time.Second
	registryTimeout = 2 * time.Second
)

// sigResult is what the signature scenario measured.
type sigResult struct {
	cfg               sigConfig
	warmup            time.Duration
	pubPEM            []byte
	repo, namespace   string
	pushed            int
	pushTook          time.Duration
	digests           map[string]name.Digest
	refusal, pinnedAs string
	plainImage        string

	plain, warm, cold, burst *phaseResult
	peers                    *peerResult
}

func (s *sigResult) add(p *phaseResult) {
	switch p.mode {
	case "plain":
		s.plain = p
	case "warm":
		s.warm = p
	case "cold":
		s.cold = p
	case "burst":
		s.burst = p
	}
}

// phases are the scenario's phases in the order they ran.
func (s *sigResult) phases() []*phaseResult {
	var out []*phaseResult
	for _, p := range []*phaseResult{s.plain, s.warm, s.cold, s.burst} {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

func (s *sigResult) failed() bool {
	for _, p := range s.phases() {
		if p.load.errorCount() > 0 {
			return true
		}
	}
	if s.peers != nil {
		for _, c := range s.peers.peers {
			if c.failures > 0 {
				return true
			}
		}
	}
	return false
}

// pq is "p50 / p99 (mean m)" of a histogram delta, in ms.
func pq(d dist) string {
	if !d.valid || d.n() == 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %s (mean %s)", ms(d.h.quantile(0.5)), ms(d.h.quantile(0.99)), ms(d.mean))
}

func (s *sigResult) markdown(w writer) {
	cfg := s.cfg
	w("\n## Image signatures: cold and warm verification at admission\n\n")
	w("- setup: namespace `%s` with a SecurityPolicy requiring every image under `%s/bench-signed/**` to be signed by an ECDSA P-256 key generated for the run; "+
		"%d images pushed to `%s` (copies of `%s`, each with a config of its own, so a digest of its own) and signed in cosign's format (the `.sig` tag) in %.1f s, %d at a time\n",
		s.namespace, cfg.registry, s.pushed, s.repo, imageOfPlain(s), s.pushTook.Seconds(), cfg.pushWorkers)
	w("- probe before the phases: a pod naming an unsigned image there is refused (`%s`); a pod naming the signed `:warm` tag is admitted as `%s` (pinned to the signed digest)\n",
		truncate(s.refusal, 220), s.pinnedAs)
	w("- every pod is the restricted-compliant pod and is admitted (no refused share); dry-run creates as above; phases one after another:\n")
	w("  - **plain**: %d/s for %s after %s warm-up, naming `%s`, outside the signature rule (tag pinning only, digest cached) — the control\n",
		cfg.warmRate, cfg.warmDuration, s.warmup, imageOfPlain(s))
	w("  - **warm**: %d/s for %s after %s warm-up, every pod naming `:warm`, already verified: digest and signatures come from each replica's cache\n",
		cfg.warmRate, cfg.warmDuration, s.warmup)
	w("  - **cold**: %d/s for %s after %s warm-up, every pod naming a different, never-seen tag (`:cold-NNNNN`): the mutating webhook resolves the tag at the registry, "+
		"the validating webhook reads the image's signatures there and verifies them\n", cfg.coldRate, cfg.coldDuration, cfg.coldWarmup)
	if s.burst != nil {
		w("  - **burst**: %d pods naming one never-seen tag (`:burst`), sent within %d ms: concurrent requests for one image should share one registry round trip per replica\n",
			s.burst.load.sent, cfg.burst)
	}
	w("\n| phase | pods sent / errors | client create p50 / p99 (ms, exact) | mutating webhook, controller p50 / p99 (ms) | validating webhook, controller p50 / p99 (ms) | API server → mutating webhook p50 / p99 (ms) | API server → validating webhook p50 / p99 (ms) |\n")
	w("|---|---|---|---|---|---|---|\n")
	for _, p := range s.phases() {
		c50, _, c99 := p.clientQ()
		w("| %s | %d / %d | %s / %s | %s | %s | %s | %s |\n", p.mode, p.load.sent, p.load.errorCount(), ms(c50), ms(c99),
			pq(p.ctrlMut), pq(p.ctrlHook), pq(p.apiMut), pq(p.apiHook))
	}
	w("\n| phase | pods sent | controller registry requests | per 1,000 pod creations | by operation/outcome | digest cache | evidence cache |\n")
	w("|---|---:|---:|---:|---|---|---|\n")
	for _, p := range s.phases() {
		n := p.registry.sum("", "")
		w("| %s | %d | %.0f | %s | %s | %s | %s |\n", p.mode, p.load.sent, n, perThousand(n, p.load.sent), p.registry,
			cacheLine(p.cache, "digest"), cacheLine(p.cache, "evidence"))
	}
	if s.burst != nil {
		w("\nBurst, per replica: %s.\n", s.burst.perReplica())
	}
	s.peerTable(w)
	s.summary(w)
	w("\nHow to read this: controller figures are `%s{webhook=\"mutate\"|\"workloads\"}` (the decision, registry round trips included; buckets %s), "+
		"API server figures `%s` (TLS, HTTP and JSON included; buckets %s), both interpolated inside their buckets — read the exact means and the client's exact quantiles beside them. "+
		"Registry requests are `%s` and cache lookups `%s`, summed over the replicas between scrapes just before and after each window, so the leader's periodic audit and "+
		"other engineers' traffic are in them too: the plain row is the control.\n",
		ctrlHist, s.bounds(func(p *phaseResult) dist { return p.ctrlHook }), apiHist, s.bounds(func(p *phaseResult) dist { return p.apiHook }), registryRequests, cacheRequests)
}

func imageOfPlain(s *sigResult) string { return s.plainImage }

func (s *sigResult) bounds(get func(*phaseResult) dist) string {
	for _, p := range s.phases() {
		if d := get(p); d.valid {
			return d.h.boundsString()
		}
	}
	return "n/a"
}

// cacheLine is one cache's lookups: "hit 10, miss 2, …".
func cacheLine(d counterDelta, cache string) string {
	var parts []string
	for _, r := range []string{"hit", "miss", "coalesced", "negative_hit"} {
		if v := d[[2]string{cache, r}]; v != 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", r, v))
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

// perReplica lists each replica's registry requests and cache lookups of the window.
func (p *phaseResult) perReplica() string {
	var parts []string
	for _, pod := range p.pods {
		one := &phaseResult{pods: []controllerPod{pod}, before: p.before, after: p.after}
		reg := one.counterDelta(registryRequests, "operation", "outcome")
		cache := one.counterDelta(cacheRequests, "cache", "result")
		val := one.counterDelta(ctrlHist+"_count", "webhook", "")
		parts = append(parts, fmt.Sprintf("%s: %.0f mutating and %.0f validating decisions, %.0f registry requests (%s), digest cache %s, evidence cache %s",
			pod.name, val.sum("mutate", ""), val.sum("workloads", ""), reg.sum("", ""), reg, cacheLine(cache, "digest"), cacheLine(cache, "evidence")))
	}
	return strings.Join(parts, "; ")
}

func (s *sigResult) peerTable(w writer) {
	if s.peers == nil || len(s.peers.peers) == 0 || s.cold == nil {
		return
	}
	c50 := exactQuantile(s.cold.load.lat, 0.5)
	v50 := s.cold.ctrlHook.h.quantile(0.5)
	w("\nThe same signatures verified by command-line tools, %d images one after another (each image by each tool in turn), wall time per verification, process start included; "+
		"\"process start\" is the tool's version command timed the same way. Ratios divide the tool's median by Outrider's cold admission in the webhook. "+
		"cosign also tries to fetch Sigstore's TUF root from the internet on every run; here that attempt fails at once (HTTPS_PROXY is a closed loopback port, the registry on "+
		"127.0.0.1 is not proxied), so its times are a floor.\n\n", len(s.peers.images))
	w("| verifier | version | verifications | median (ms) | p90 (ms) | range (ms) | process start, median (ms) | ÷ cold pod create p50 (%s ms, both webhooks) | ÷ cold validating decision p50 (%s ms) |\n", ms(c50), ms(v50))
	w("|---|---|---:|---:|---:|---|---:|---:|---:|\n")
	for _, c := range s.peers.peers {
		m := exactQuantile(c.verify, 0.5)
		w("| `%s` | %s | %d (%d failed) | %s | %s | %s–%s | %s | %s | %s |\n", c.command, c.version, len(c.verify), c.failures,
			ms(m), ms(exactQuantile(c.verify, 0.9)), ms(exactQuantile(c.verify, 0)), ms(exactQuantile(c.verify, 1)),
			ms(exactQuantile(c.start, 0.5)), ratio(m, c50), ratio(m, v50))
	}
	for _, c := range s.peers.peers {
		if c.failures > 0 {
			w("\n%s failed %d times, first: `%s`\n", c.tool, c.failures, truncate(c.failure, 400))
		}
	}
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b <= 0 {
		return "n/a"
	}
	if a/b >= 10 {
		return fmt.Sprintf("%.0f×", a/b)
	}
	return fmt.Sprintf("%.1f×", a/b)
}

func truncate(s string, n int) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "`", "'")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// summary states the scenario's figures against the limits and the control.
func (s *sigResult) summary(w writer) {
	w("\n")
	if p := s.cold; p != nil {
		_, _, c99 := p.clientQ()
		v99, a99 := p.ctrlHook.h.quantile(0.99), p.apiHook.h.quantile(0.99)
		rl := p.sumHist(registryDuration, nil)
		w("- cold: client create p99 %s ms; the API server's validating webhook call p99 %s ms = %.1f%% of the %s webhook timeout; validating decision p99 %s ms; "+
			"registry requests took %s ms on average (%s), each bounded by the %s registry timeout\n",
			ms(c99), ms(a99), 100*a99/webhookTimeout.Seconds(), webhookTimeout, ms(v99), ms(rl.mean), shares(rl.h, 0.005, 0.025), registryTimeout)
		n := p.registry.sum("", "")
		w("- cold: %s registry requests per 1,000 pod creations, %s of them `ping` (GET /v2/ before each operation)\n",
			perThousand(n, p.load.sent), perThousand(p.registry.sum("ping", ""), p.load.sent))
	}
	if s.warm != nil && s.plain != nil {
		w50, _, w99 := s.warm.clientQ()
		p50, _, p99 := s.plain.clientQ()
		w("- warm against plain, same rate, same namespace: client create p50 %s vs %s ms (%+.2f ms), p99 %s vs %s ms; validating decision mean %s vs %s ms; registry requests per 1,000 creations %s vs %s\n",
			ms(w50), ms(p50), (w50-p50)*1000, ms(w99), ms(p99), ms(s.warm.ctrlHook.mean), ms(s.plain.ctrlHook.mean),
			perThousand(s.warm.registry.sum("", ""), s.warm.load.sent), perThousand(s.plain.registry.sum("", ""), s.plain.load.sent))
	}
	if s.peers != nil && s.cold != nil {
		c50 := exactQuantile(s.cold.load.lat, 0.5)
		for _, c := range s.peers.peers {
			m, st := exactQuantile(c.verify, 0.5), exactQuantile(c.start, 0.5)
			w("- %s CLI: %s ms per image (median), of which about %s ms is starting the process; %s a cold pod create through both webhooks (p50 %s ms)\n",
				c.tool, ms(m), ms(st), ratio(m, c50), ms(c50))
		}
	}
	if p := s.burst; p != nil {
		_, _, c99 := p.clientQ()
		w("- burst: %d pods naming one new image cost %.0f registry requests in all (%s), client create p50 %s ms, max %s ms\n",
			p.load.sent, p.registry.sum("", ""), cacheLine(p.cache, "evidence"), ms(exactQuantile(p.load.lat, 0.5)), ms(math.Max(c99, exactQuantile(p.load.lat, 1))))
	}
}
