package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// compliantPod meets the default ClusterSecurityPolicy (Pod Security Standards restricted plus
// Outrider's checks), like examples/cluster/compliant.yaml.
func compliantPod(image string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "bench-admission"}},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](65532),
				RunAsGroup:     ptr.To[int64](65532),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:    "app",
				Image:   image,
				Command: []string{"sh", "-c", "exec sleep 3600"},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{
						corev1.ResourceCPU:    resource.MustParse("10m"),
						corev1.ResourceMemory: resource.MustParse("16Mi"),
					},
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
				},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}

// nonCompliantPod is refused by the default policy: privileged and root, like
// examples/cluster/privileged.yaml. It passes the API's own validation, so the request does
// reach the validating webhook.
func nonCompliantPod(image string) *corev1.Pod {
	p := compliantPod(image)
	p.Spec.SecurityContext = nil
	p.Spec.AutomountServiceAccountToken = nil
	p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true), RunAsUser: ptr.To[int64](0)}
	return p
}

// isBad spreads the non-compliant share evenly: request i is bad when floor((i+1)*share)
// steps up, so 10% means every tenth request.
func isBad(i int, share float64) bool {
	return math.Floor(float64(i+1)*share) > math.Floor(float64(i)*share)
}

// podMix is what a run creates: request i names image(i), and a badShare of the requests are
// non-compliant pods.
type podMix struct {
	image    func(i int) string
	badShare float64
}

// oneImage is a mix whose pods all name image.
func oneImage(image string, badShare float64) podMix {
	return podMix{image: func(int) string { return image }, badShare: badShare}
}

// from is the mix as seen k requests later: a measured window that follows a warm-up goes on
// where the warm-up stopped (a new image for every request stays new).
func (m podMix) from(k int) podMix {
	return podMix{image: func(i int) string { return m.image(k + i) }, badShare: m.badShare}
}

// loadResult is what one open-loop run at a fixed rate saw from the client side.
type loadResult struct {
	planned, sent, skipped int
	admitted, refused      int
	errs                   map[string]int
	errExample             map[string]string
	lat                    []float64 // seconds, every request answered with a verdict
	at                     []float64 // when each of lat was sent, seconds after the start
	skipAt                 []float64 // when requests were skipped at the in-flight cap
	sendWindow, wall       time.Duration
}

func (l *loadResult) errorCount() int {
	n := 0
	for _, c := range l.errs {
		n += c
	}
	return n
}

// load creates rate*d pods with server-side dry-run, open loop: request i is sent at
// start+i/rate whatever the earlier ones are doing (if the sender falls behind it catches up),
// with at most b.inflight requests outstanding; a request that would exceed that is skipped
// and counted, never queued, so the generator cannot hide server slowness by slowing down.
func (b *bench) load(ctx context.Context, ns, tag string, rate int, d time.Duration, webhookOn bool, mix podMix) *loadResult {
	r := &loadResult{errs: map[string]int{}, errExample: map[string]string{}}
	r.planned = int(float64(rate) * d.Seconds())
	period := time.Second / time.Duration(rate)
	sem := make(chan struct{}, b.inflight)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < r.planned && ctx.Err() == nil; i++ {
		if w := time.Until(start.Add(time.Duration(i) * period)); w > 0 {
			t := time.NewTimer(w)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		select {
		case sem <- struct{}{}:
		default:
			r.skipped++
			r.skipAt = append(r.skipAt, time.Since(start).Seconds())
			continue
		}
		r.sent++
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			isBadPod := isBad(i, mix.badShare)
			pod := compliantPod(mix.image(i))
			if isBadPod {
				pod = nonCompliantPod(mix.image(i))
			}
			pod.Name = fmt.Sprintf("bench-%s-%06d", tag, i)
			rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			t0 := time.Now()
			sentAt := t0.Sub(start).Seconds()
			_, err := b.cs.CoreV1().Pods(ns).Create(rctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			el := time.Since(t0)
			cancel()
			verdict, kind := classify(err, isBadPod, webhookOn)
			mu.Lock()
			defer mu.Unlock()
			switch verdict {
			case "admitted":
				r.admitted++
				r.lat, r.at = append(r.lat, el.Seconds()), append(r.at, sentAt)
			case "refused":
				r.refused++
				r.lat, r.at = append(r.lat, el.Seconds()), append(r.at, sentAt)
			default:
				r.errs[kind]++
				if _, ok := r.errExample[kind]; !ok {
					msg := "admitted"
					if err != nil {
						msg = err.Error()
					}
					if len(msg) > 300 {
						msg = msg[:300] + "…"
					}
					r.errExample[kind] = msg
				}
			}
		}(i)
	}
	r.sendWindow = time.Since(start)
	wg.Wait()
	r.wall = time.Since(start)
	return r
}

// classify sorts one answer into admitted, refused (both expected verdicts) or an error kind.
func classify(err error, bad, webhookOn bool) (verdict, kind string) {
	switch {
	case err == nil && bad && webhookOn:
		return "error", "non-compliant pod admitted"
	case err == nil:
		return "admitted", ""
	case strings.Contains(err.Error(), "denied the request"):
		switch {
		case bad && webhookOn:
			return "refused", ""
		case !webhookOn:
			return "error", "refused in the baseline namespace (its webhook exclusion was undone)"
		}
		return "error", "compliant pod refused"
	case strings.Contains(err.Error(), "failed calling webhook"):
		return "error", "webhook call failed"
	case errors.Is(err, context.DeadlineExceeded) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err):
		return "error", "timeout"
	case errors.Is(err, context.Canceled):
		return "error", "canceled"
	case apierrors.IsTooManyRequests(err):
		return "error", "429 too many requests"
	}
	if reason := apierrors.ReasonForError(err); reason != metav1.StatusReasonUnknown {
		return "error", "api: " + string(reason)
	}
	return "error", "other"
}

// exactQuantile is the nearest-rank quantile of every sample (no binning): the smallest value
// with at least q of the samples at or below it.
func exactQuantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(rank, len(s)-1))]
}

// warningCounter replaces client-go's default warning printer (which would print one line per
// request): the webhook's warnings are counted, not shown.
type warningCounter struct {
	n     atomic.Int64
	first atomic.Pointer[string]
}

func (w *warningCounter) HandleWarningHeader(code int, agent, text string) {
	if code == 299 {
		w.n.Add(1)
		w.first.CompareAndSwap(nil, &text)
	}
}
