package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/outrider-sec/outrider/internal/mesh/inject"
)

// Milestones of a pod's start. The API's come from the watch (when the kubelet reported
// them); the logs' from the containers' own JSON log lines, stamped by the processes on
// this machine's clock: what the work itself took, without the kubelet's reporting delay. A
// plain pod has scheduled, app-process, app-running and ready only.
var milestones = []string{"scheduled", "capture-rules", "capture-done", "proxy-process", "proxy-identity", "proxy-running",
	"proxy-started", "proxy-ready", "app-process", "app-running", "ready"}

// startSample is one pod's start, every time measured from just before its create call.
type startSample struct {
	variant string
	i       int
	// createCall is the create request's round trip (admission included: both webhooks, and
	// the injection in the meshed namespace).
	createCall time.Duration
	// seen is when the watch first showed each milestone (local clock): an upper bound on
	// when it happened, by the kubelet's status update and the watch's delivery.
	seen map[string]time.Duration
	// apiReady is the Ready condition's lastTransitionTime minus creationTimestamp: the API's
	// own account, at its 1 s resolution.
	apiReady time.Duration
}

// reached lists the milestones p's status shows.
func reached(p *corev1.Pod) []string {
	var out []string
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue {
			out = append(out, "scheduled")
		}
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			out = append(out, "ready")
		}
	}
	for _, cs := range p.Status.InitContainerStatuses {
		switch cs.Name {
		case inject.CaptureContainer:
			if t := cs.State.Terminated; t != nil && t.ExitCode == 0 {
				out = append(out, "capture-done")
			}
		case inject.ProxyContainer:
			if cs.State.Running != nil {
				out = append(out, "proxy-running")
			}
			if ptr.Deref(cs.Started, false) {
				out = append(out, "proxy-started")
			}
			if cs.Ready {
				out = append(out, "proxy-ready")
			}
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == appName && cs.State.Running != nil {
			out = append(out, "app-running")
		}
	}
	return out
}

// startupAll starts --startup-pods pods in each namespace, one at a time, the variants
// alternating (plain first for even i, meshed first for odd i).
func (b *bench) startupAll(ctx context.Context) error {
	for i := 0; i < b.cfg.startupPods; i++ {
		order := slices.Clone(b.vs)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, v := range order {
			s, err := b.startOne(ctx, v, i)
			if err != nil {
				return err
			}
			b.res.startup = append(b.res.startup, s)
			logf("start-up %d/%d %s: create call %d ms, Ready seen after %d ms (API: %v)", i+1, b.cfg.startupPods, v.name,
				s.createCall.Milliseconds(), s.seen["ready"].Milliseconds(), s.apiReady)
		}
	}
	return nil
}

// startOne creates one pod, watches it until Ready, deletes it and waits until it is gone.
func (b *bench) startOne(ctx context.Context, v *variant, i int) (*startSample, error) {
	name := fmt.Sprintf("startup-%d", i)
	pods := b.cs.CoreV1().Pods(v.ns)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		return nil, err
	}
	defer func() { w.Stop() }()
	s := &startSample{variant: v.name, i: i, seen: map[string]time.Duration{}}
	t0 := time.Now()
	created, err := pods.Create(ctx, b.pod(v.ns, name, "startup", "startup"), metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating pod %s/%s: %w", v.ns, name, err)
	}
	s.createCall = time.Since(t0)
	if inject.Injected(&created.Spec) != v.meshed {
		return nil, fmt.Errorf("pod %s/%s: injected %v, want %v", v.ns, name, inject.Injected(&created.Spec), v.meshed)
	}
	var last *corev1.Pod
	for s.seen["ready"] == 0 {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("pod %s/%s not Ready after 3 minutes: %s", v.ns, name, describe(last))
		case ev, ok := <-w.ResultChan():
			if !ok {
				// The watch ended early: go on from the last version seen.
				rv := created.ResourceVersion
				if last != nil {
					rv = last.ResourceVersion
				}
				if w, err = pods.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: rv}); err != nil {
					return nil, err
				}
				continue
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type == watch.Deleted {
				continue
			}
			at := time.Since(t0)
			last = p
			for _, m := range reached(p) {
				if _, done := s.seen[m]; !done {
					s.seen[m] = at
				}
			}
		}
	}
	for _, c := range last.Status.Conditions {
		if c.Type == corev1.PodReady {
			s.apiReady = c.LastTransitionTime.Sub(last.CreationTimestamp.Time)
		}
	}
	containers := []string{appName}
	if v.meshed {
		containers = append(containers, inject.CaptureContainer, inject.ProxyContainer)
	}
	for _, c := range containers {
		raw, err := pods.GetLogs(name, &corev1.PodLogOptions{Container: c, LimitBytes: ptr.To[int64](1 << 20)}).DoRaw(ctx)
		if err != nil {
			return nil, fmt.Errorf("logs of %s/%s %s: %w", v.ns, name, c, err)
		}
		for m, at := range logMilestones(c, raw) {
			s.seen[m] = at.Sub(t0)
		}
	}
	// Gone before the next one starts, so pods never overlap.
	if err := pods.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return nil, fmt.Errorf("deleting pod %s/%s: %w", v.ns, name, err)
	}
	if err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := pods.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		return nil, fmt.Errorf("pod %s/%s still there after its deletion: %w", v.ns, name, err)
	}
	// Let the node finish tearing the sandbox down, and start the next pod at a random phase
	// of the kubelet's 1 s relist, which otherwise the loop would lock onto.
	time.Sleep(time.Second + rand.N(time.Second))
	return s, nil
}

// logLine is what the milestones need of a JSON log line: slog's "time" (the proxy, capture)
// or fortio's "ts" (Unix seconds).
type logLine struct {
	Time time.Time `json:"time"`
	TS   float64   `json:"ts"`
	Msg  string    `json:"msg"`
}

func (l logLine) at() time.Time {
	if !l.Time.IsZero() {
		return l.Time
	}
	sec, frac := math.Modf(l.TS)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// logMilestones finds, in a container's log, when its process reached its milestones:
// capture's rules verified; the proxy started, and holding a certificate, a trust bundle and
// a policy (what its startup probe waits for); fortio's servers listening.
func logMilestones(container string, raw []byte) map[string]time.Time {
	first := map[string]time.Time{}
	for _, l := range strings.Split(string(raw), "\n") {
		var e logLine
		if json.Unmarshal([]byte(l), &e) != nil || (e.Time.IsZero() && e.TS == 0) {
			continue
		}
		key := e.Msg
		if strings.Contains(e.Msg, "servers started") {
			key = "fortio started"
		}
		if _, ok := first[key]; !ok {
			first[key] = e.at()
		}
	}
	out := map[string]time.Time{}
	switch container {
	case appName:
		if t, ok := first["fortio started"]; ok {
			out["app-process"] = t
		}
	case inject.CaptureContainer:
		if t, ok := first["capture rules installed and verified"]; ok {
			out["capture-rules"] = t
		}
	case inject.ProxyContainer:
		if t, ok := first["proxy started"]; ok {
			out["proxy-process"] = t
		}
		var ready time.Time
		for _, m := range []string{"certificate installed", "trust bundle installed", "policy installed"} {
			t, ok := first[m]
			if !ok {
				return out
			}
			if t.After(ready) {
				ready = t
			}
		}
		out["proxy-identity"] = ready
	}
	return out
}
