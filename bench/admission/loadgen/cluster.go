package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

const (
	nsNameKey     = "kubernetes.io/metadata.name"
	benchLabelKey = "outrider.dev/bench"
	benchLabelVal = "admission"
)

// --- namespaces ------------------------------------------------------------------------------

func createNamespace(ctx context.Context, cs kubernetes.Interface, name string) error {
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{benchLabelKey: benchLabelVal},
	}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	// The ServiceAccount admission plugin refuses pods until the namespace's default
	// ServiceAccount exists (kube-controller-manager creates it a moment later).
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

func deleteNamespace(cs kubernetes.Interface, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		logf("WARNING: deleting namespace %s: %v (delete it by hand)", name, err)
	}
}

// --- webhook exclusion for the baseline ------------------------------------------------------

// webhookRef names one webhook inside a (validating or mutating) configuration.
type webhookRef struct {
	mutating bool
	config   string
	webhook  string
}

func (w webhookRef) String() string { return w.config + "/" + w.webhook }

// editSelector changes the namespaceSelector of one webhook with a read-modify-write that
// retries on conflicts, so a concurrent caBundle update by the controller is not lost.
func editSelector(ctx context.Context, cs kubernetes.Interface, w webhookRef, edit func(*metav1.LabelSelector) bool) error {
	api := cs.AdmissionregistrationV1()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if w.mutating {
			c, err := api.MutatingWebhookConfigurations().Get(ctx, w.config, metav1.GetOptions{})
			if err != nil {
				return err
			}
			i := slices.IndexFunc(c.Webhooks, func(h admissionregistrationv1.MutatingWebhook) bool { return h.Name == w.webhook })
			if i < 0 {
				return fmt.Errorf("webhook %s not found", w)
			}
			if c.Webhooks[i].NamespaceSelector == nil {
				c.Webhooks[i].NamespaceSelector = &metav1.LabelSelector{}
			}
			if !edit(c.Webhooks[i].NamespaceSelector) {
				return nil
			}
			_, err = api.MutatingWebhookConfigurations().Update(ctx, c, metav1.UpdateOptions{})
			return err
		}
		c, err := api.ValidatingWebhookConfigurations().Get(ctx, w.config, metav1.GetOptions{})
		if err != nil {
			return err
		}
		i := slices.IndexFunc(c.Webhooks, func(h admissionregistrationv1.ValidatingWebhook) bool { return h.Name == w.webhook })
		if i < 0 {
			return fmt.Errorf("webhook %s not found", w)
		}
		if c.Webhooks[i].NamespaceSelector == nil {
			c.Webhooks[i].NamespaceSelector = &metav1.LabelSelector{}
		}
		if !edit(c.Webhooks[i].NamespaceSelector) {
			return nil
		}
		_, err = api.ValidatingWebhookConfigurations().Update(ctx, c, metav1.UpdateOptions{})
		return err
	})
}

// excludeNamespace adds ns to the webhook's "kubernetes.io/metadata.name NotIn" expression.
func excludeNamespace(ctx context.Context, cs kubernetes.Interface, w webhookRef, ns string) error {
	return editSelector(ctx, cs, w, func(s *metav1.LabelSelector) bool {
		for i, e := range s.MatchExpressions {
			if e.Key == nsNameKey && e.Operator == metav1.LabelSelectorOpNotIn {
				if slices.Contains(e.Values, ns) {
					return false
				}
				s.MatchExpressions[i].Values = append(s.MatchExpressions[i].Values, ns)
				return true
			}
		}
		s.MatchExpressions = append(s.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: nsNameKey, Operator: metav1.LabelSelectorOpNotIn, Values: []string{ns},
		})
		return true
	})
}

// includeNamespaces removes from the webhook's NotIn expression every value for which drop is
// true; it removes only those values, so anything else changed meanwhile stays as it is.
func includeNamespaces(ctx context.Context, cs kubernetes.Interface, w webhookRef, drop func(string) bool) error {
	return editSelector(ctx, cs, w, func(s *metav1.LabelSelector) bool {
		changed := false
		var exprs []metav1.LabelSelectorRequirement
		for _, e := range s.MatchExpressions {
			if e.Key == nsNameKey && e.Operator == metav1.LabelSelectorOpNotIn {
				kept := slices.DeleteFunc(slices.Clone(e.Values), drop)
				if len(kept) != len(e.Values) {
					changed = true
					if len(kept) == 0 {
						continue // the expression was ours alone
					}
					e.Values = kept
				}
			}
			exprs = append(exprs, e)
		}
		s.MatchExpressions = exprs
		return changed
	})
}

// --- controller pods ----------------------------------------------------------------------

type controllerPod struct {
	name, uid, ip, containerID string
}

func controllerPods(ctx context.Context, cs kubernetes.Interface, ns, selector string) ([]controllerPod, error) {
	l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	var out []controllerPod
	for _, p := range l.Items {
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		cp := controllerPod{name: p.Name, uid: string(p.UID), ip: p.Status.PodIP}
		if len(p.Status.ContainerStatuses) > 0 {
			id := p.Status.ContainerStatuses[0].ContainerID
			if i := strings.Index(id, "://"); i >= 0 {
				id = id[i+3:]
			}
			cp.containerID = id
		}
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b controllerPod) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// waitControllerReady waits until the controller Deployment has all its replicas updated,
// ready and available, so a rollout (say, by someone else's test) does not fall into a run.
func waitControllerReady(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) (int32, error) {
	var replicas int32
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		replicas = want
		s := d.Status
		return want > 0 && d.Status.ObservedGeneration >= d.Generation && s.Replicas == want &&
			s.UpdatedReplicas == want && s.ReadyReplicas == want && s.AvailableReplicas == want, nil
	})
	return replicas, err
}

// --- scraping -------------------------------------------------------------------------------

type podScrape struct {
	pod     controllerPod
	samples []sample
	err     error
	// from /proc when the pod does not export process_* series
	procCPU, procRSS float64
	procOK           bool
}

type snapshot struct {
	at     time.Time
	api    []sample
	apiErr error
	pods   map[string]podScrape // by pod UID
	cpu    cpuTimes
	self   time.Duration
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

func scrapePod(ctx context.Context, p controllerPod, port int) podScrape {
	ps := podScrape{pod: p}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s:%d/metrics", p.ip, port), nil)
	if err != nil {
		ps.err = err
		return ps
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		ps.err = err
	} else {
		if resp.StatusCode != http.StatusOK {
			ps.err = fmt.Errorf("GET /metrics on %s: %s", p.name, resp.Status)
		} else {
			ps.samples, ps.err = parseText(resp.Body)
		}
		resp.Body.Close()
	}
	if _, ok := scalar(ps.samples, "process_cpu_seconds_total", nil); !ok {
		ps.procCPU, ps.procRSS, ps.procOK = procUsage(containerProcs(p.containerID))
	}
	return ps
}

func (b *bench) snapshot(ctx context.Context, pods []controllerPod, withAPI bool) snapshot {
	s := snapshot{pods: map[string]podScrape{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps := scrapePod(ctx, p, b.metricsPort)
			mu.Lock()
			s.pods[p.uid] = ps
			mu.Unlock()
		}()
	}
	if withAPI {
		raw, err := b.cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
		if err == nil {
			s.api, err = parseText(strings.NewReader(string(raw)))
		}
		s.apiErr = err
	}
	wg.Wait()
	s.at, s.cpu, s.self = time.Now(), machineCPU(), selfCPU()
	return s
}

// cpuSeconds and rssBytes read a pod scrape's process figures, from metrics or /proc.
func (ps podScrape) cpuSeconds() (float64, bool) {
	if v, ok := scalar(ps.samples, "process_cpu_seconds_total", nil); ok {
		return v, true
	}
	return ps.procCPU, ps.procOK
}

func (ps podScrape) rssBytes() (float64, bool) {
	if v, ok := scalar(ps.samples, "process_resident_memory_bytes", nil); ok {
		return v, true
	}
	return ps.procRSS, ps.procOK
}
