package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/outrider-sec/outrider/internal/admission"
	"github.com/outrider-sec/outrider/internal/imageref"
	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/workload"
)

const (
	// listPageSize bounds each list call, so a large cluster is read in pages, not at once.
	listPageSize = 500
	// defaultAuditInterval applies when Interval is unset.
	defaultAuditInterval = 5 * time.Minute
	// engineWait is how often the audit looks for the first engine while policies load.
	engineWait = 2 * time.Second
	// crdRetry is how long the audit waits to retry after the CRDs could not be installed.
	crdRetry = 30 * time.Second
)

// Auditor re-evaluates running workloads with the policies in force and writes one
// PolicyReport per namespace. It runs on the leader only (it does not implement
// NeedLeaderElection) and never changes a workload.
type Auditor struct {
	// Reader reads the cluster live (mgr.GetAPIReader()), in pages: workloads are not cached.
	Reader client.Reader
	// Writer writes reports and CRDs (mgr.GetClient()).
	Writer client.Client
	// Engines returns the engine in force, nil until policies are loaded; the audit waits for it.
	Engines func() *policy.Engine
	// Interval is the time between periodic audits (default 5m).
	Interval time.Duration
	// Log receives one line per audit and every failure.
	Log *slog.Logger
	// Metrics, when set, receive the audit's series.
	Metrics *AuditMetrics
	// ExcludeNamespaces are never audited, besides kube-system (set Outrider's own namespace).
	ExcludeNamespaces []string
	// Images gathers registry data afresh for image-trust rules (new vulnerability reports
	// attached since admission); nil judges without it.
	Images func(ctx context.Context, refs []imageref.Reference, pull admission.PullContext) policy.ImageData
	// Events, when set, receive a Warning Event on a workload for each image finding the
	// previous audit did not have (a vulnerability published since the image was admitted).
	Events record.EventRecorder

	// established waits for a CRD to be served; nil polls the API server. Tests inject one,
	// since a fake client never sets the Established condition.
	established establishedFunc
	// now stamps results; nil is time.Now.
	now func() time.Time

	once sync.Once
	kick chan struct{}
	// imageFindings are the image findings of the last audit, to announce only new ones.
	imageFindings map[string]bool
}

// AuditMetrics are the audit's Prometheus series.
type AuditMetrics struct {
	// Findings counts the findings of the last successful audit by severity and result.
	Findings *prometheus.GaugeVec
	// Runs counts audits started.
	Runs prometheus.Counter
	// Duration is how long the last audit took.
	Duration prometheus.Gauge
	// LastSuccess is when the last audit that wrote every report ended.
	LastSuccess prometheus.Gauge
	// ImageVulnerabilities counts running images over their vulnerability threshold at the
	// last audit, by the worst severity that counted (one per image.vulnerabilities finding).
	ImageVulnerabilities *prometheus.GaugeVec
}

// NewAuditMetrics creates the audit's series and registers them with reg.
func NewAuditMetrics(reg prometheus.Registerer) *AuditMetrics {
	m := &AuditMetrics{
		Findings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "outrider_audit_findings", Help: "Findings in running workloads at the last audit, by severity and report result."},
			[]string{"severity", "result"}),
		Runs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outrider_audit_runs_total", Help: "Audits started."}),
		Duration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outrider_audit_duration_seconds", Help: "How long the last audit took."}),
		LastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outrider_audit_last_success_timestamp_seconds", Help: "When the last audit that wrote every report ended (Unix time)."}),
		ImageVulnerabilities: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "outrider_image_vulnerabilities",
			Help: "Running workload images over their policy's vulnerability threshold at the last audit, by the worst severity that counted."},
			[]string{"severity"}),
	}
	reg.MustRegister(m.Findings, m.Runs, m.Duration, m.LastSuccess, m.ImageVulnerabilities)
	return m
}

// Trigger asks for an audit soon, for instance after a policy change. It never blocks;
// triggers that arrive while one is pending are merged into it.
func (a *Auditor) Trigger() {
	select {
	case a.kicks() <- struct{}{}:
	default:
	}
}

func (a *Auditor) kicks() chan struct{} {
	a.once.Do(func() { a.kick = make(chan struct{}, 1) })
	return a.kick
}

// Start installs the PolicyReport CRDs if the cluster lacks them, then audits as soon as the
// policies are loaded, every Interval after that, and on Trigger, until ctx ends. A failed
// audit is logged and retried at the next tick: it never stops the manager.
func (a *Auditor) Start(ctx context.Context) error {
	interval := a.Interval
	if interval <= 0 {
		interval = defaultAuditInterval
	}
	established := a.established
	if established == nil {
		established = pollEstablished(a.Reader, crdEstablishTimeout)
	}
	crdsReady := false
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-a.kicks():
		}
		next := interval
		switch engine := a.Engines(); {
		case !crdsReady:
			if err := installCRDs(ctx, a.Reader, a.Writer, established, a.Log); err != nil {
				a.logFailure(ctx, "installing the PolicyReport CRDs failed", err)
				next = crdRetry
				break
			}
			crdsReady = true
			next = 0 // audit at once
		case engine == nil:
			next = engineWait
		default:
			if err := a.audit(ctx, engine); err != nil {
				a.logFailure(ctx, "audit failed", err)
			}
		}
		timer.Reset(next)
	}
}

func (a *Auditor) logFailure(ctx context.Context, msg string, err error) {
	if ctx.Err() == nil {
		a.Log.Error(msg, "err", err)
	}
}

// auditRun tallies one audit.
type auditRun struct {
	namespaces, resources, findings, suppressed int
	written, deleted                            int
	// results counts findings by severity and result, for the findings gauge.
	results map[[2]string]int
	// imageVulns counts image.vulnerabilities findings by severity.
	imageVulns map[string]int
}

// imageVulnerabilitiesCheck is the check whose findings outrider_image_vulnerabilities counts.
const imageVulnerabilitiesCheck = "image.vulnerabilities"

// announceImageFindings emits a Warning Event on each workload for every unsuppressed image
// finding (image.*) that the previous audit did not have: what was clean at admission may not
// be clean today. The first audit after a start announces what it finds.
func (a *Auditor) announceImageFindings(byNamespace map[string][]auditedResource) {
	current := map[string]bool{}
	for _, resources := range byNamespace {
		for i := range resources {
			r := &resources[i]
			for j := range r.Findings {
				f := &r.Findings[j]
				if !strings.HasPrefix(f.Check, "image.") || f.Suppressed != nil {
					continue
				}
				key := string(r.UID) + "|" + f.Check + "|" + f.Path + "|" + f.Message
				current[key] = true
				if a.imageFindings[key] || a.Events == nil {
					continue
				}
				ref := &corev1.ObjectReference{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, UID: r.UID}
				a.Events.Eventf(ref, corev1.EventTypeWarning, "ImageTrustViolation", "%s (%s, policy %s): %s", f.Check, f.Severity, f.Policy, f.Message)
			}
		}
	}
	a.imageFindings = current
}

// audit evaluates every workload once and writes the reports.
func (a *Auditor) audit(ctx context.Context, engine *policy.Engine) error {
	start := time.Now()
	now := start
	if a.now != nil {
		now = a.now()
	}
	if a.Metrics != nil {
		a.Metrics.Runs.Inc()
	}
	byNamespace, err := a.collect(ctx, engine)
	if err != nil {
		return err
	}
	run := auditRun{results: map[[2]string]int{}, imageVulns: map[string]int{}}
	var errs []error
	for _, ns := range sortedKeys(byNamespace) {
		resources := byNamespace[ns]
		run.namespaces++
		run.count(resources)
		wrote, err := a.writeReport(ctx, newAuditReport(ns, resources, now))
		if err != nil && !namespaceGone(err) {
			errs = append(errs, err)
		}
		if wrote {
			run.written++
		}
	}
	a.announceImageFindings(byNamespace)
	deleted, err := a.deleteStaleReports(ctx, byNamespace)
	run.deleted = deleted
	errs = append(errs, err)
	took := time.Since(start)
	a.record(&run, took, errors.Join(errs...) == nil)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	a.Log.Info("audit complete", "namespaces", run.namespaces, "resources", run.resources,
		"findings", run.findings, "suppressed", run.suppressed, "reportsWritten", run.written,
		"reportsDeleted", run.deleted, "duration", took.Round(time.Millisecond))
	return nil
}

func (r *auditRun) count(resources []auditedResource) {
	r.resources += len(resources)
	for i := range resources {
		for j := range resources[i].Findings {
			f := &resources[i].Findings[j]
			result := resultOf(f)
			if result == resultSkip {
				r.suppressed++
			} else {
				r.findings++
			}
			r.results[[2]string{string(f.Severity), result}]++
			if f.Check == imageVulnerabilitiesCheck && result != resultSkip {
				r.imageVulns[string(f.Severity)]++
			}
		}
	}
}

// record sets the metrics. Every severity and result is set, to zero when absent, so a fixed
// finding's series drops to zero instead of keeping its last value.
func (a *Auditor) record(run *auditRun, took time.Duration, ok bool) {
	m := a.Metrics
	if m == nil {
		return
	}
	m.Duration.Set(took.Seconds())
	if !ok {
		return
	}
	for _, sev := range policy.Severities {
		for _, result := range []string{resultFail, resultWarn, resultSkip} {
			m.Findings.WithLabelValues(string(sev), result).Set(float64(run.results[[2]string{string(sev), result}]))
		}
		m.ImageVulnerabilities.WithLabelValues(string(sev)).Set(float64(run.imageVulns[string(sev)]))
	}
	m.LastSuccess.SetToCurrentTime()
}

// namespaceGone reports a write refused because the namespace was deleted during the audit.
func namespaceGone(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// auditKind is one workload kind the audit lists.
type auditKind struct {
	gvk     schema.GroupVersionKind
	newList func() client.ObjectList
}

// auditKinds are the workload kinds the audit judges, parents before children.
var auditKinds = []auditKind{
	{appsv1.SchemeGroupVersion.WithKind("Deployment"), func() client.ObjectList { return &appsv1.DeploymentList{} }},
	{appsv1.SchemeGroupVersion.WithKind("StatefulSet"), func() client.ObjectList { return &appsv1.StatefulSetList{} }},
	{appsv1.SchemeGroupVersion.WithKind("DaemonSet"), func() client.ObjectList { return &appsv1.DaemonSetList{} }},
	{batchv1.SchemeGroupVersion.WithKind("CronJob"), func() client.ObjectList { return &batchv1.CronJobList{} }},
	{batchv1.SchemeGroupVersion.WithKind("Job"), func() client.ObjectList { return &batchv1.JobList{} }},
	{appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), func() client.ObjectList { return &appsv1.ReplicaSetList{} }},
	{corev1.SchemeGroupVersion.WithKind("ReplicationController"), func() client.ObjectList { return &corev1.ReplicationControllerList{} }},
	{corev1.SchemeGroupVersion.WithKind("Pod"), func() client.ObjectList { return &corev1.PodList{} }},
}

// collect lists namespaces and workloads and evaluates every workload that is not excluded
// and not created by another workload, grouped by namespace.
func (a *Auditor) collect(ctx context.Context, engine *policy.Engine) (map[string][]auditedResource, error) {
	labels := map[string]map[string]string{}
	err := a.listAll(ctx, func() client.ObjectList { return &corev1.NamespaceList{} }, func(o client.Object) {
		labels[o.GetName()] = o.GetLabels()
	})
	if err != nil {
		return nil, err
	}
	byNamespace := map[string][]auditedResource{}
	for _, k := range auditKinds {
		err := a.listAll(ctx, k.newList, func(o client.Object) {
			if a.excluded(o.GetNamespace()) || ownedByWorkload(o) {
				return
			}
			ns := policy.Namespace{Name: o.GetNamespace(), Labels: labels[o.GetNamespace()]}
			byNamespace[ns.Name] = append(byNamespace[ns.Name], a.judge(ctx, engine, o, k.gvk, ns))
		})
		if err != nil {
			return nil, err
		}
	}
	for _, resources := range byNamespace {
		sort.SliceStable(resources, func(i, j int) bool {
			if resources[i].Kind != resources[j].Kind {
				return resources[i].Kind < resources[j].Kind
			}
			return resources[i].Name < resources[j].Name
		})
	}
	return byNamespace, nil
}

// listAll lists every object of a kind, cluster-wide, page by page.
func (a *Auditor) listAll(ctx context.Context, newList func() client.ObjectList, fn func(client.Object)) error {
	cont := ""
	for {
		list := newList()
		if err := a.Reader.List(ctx, list, client.Limit(listPageSize), client.Continue(cont)); err != nil {
			return fmt.Errorf("listing %T: %w", list, err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return fmt.Errorf("reading %T: %w", list, err)
		}
		for _, item := range items {
			if o, ok := item.(client.Object); ok {
				fn(o)
			}
		}
		if cont = list.GetContinue(); cont == "" {
			return nil
		}
	}
}

// judge evaluates one object. Typed list items have no apiVersion and kind, which the decoder
// needs, so they are set from the list's kind first.
func (a *Auditor) judge(ctx context.Context, engine *policy.Engine, o client.Object, gvk schema.GroupVersionKind, ns policy.Namespace) auditedResource {
	o.GetObjectKind().SetGroupVersionKind(gvk)
	r := auditedResource{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind,
		Namespace: o.GetNamespace(), Name: o.GetName(), UID: o.GetUID()}
	js, err := json.Marshal(o)
	if err != nil {
		r.DecodeErr = err
		return r
	}
	obj, err := workload.DecodeObject("audit", js)
	if err != nil {
		r.DecodeErr = err
		return r
	}
	if a.Images != nil {
		if refs := engine.TrustNeeds(obj, ns); len(refs) > 0 {
			engine = engine.WithImageData(a.Images(ctx, refs, admission.PullContextOf(obj)))
		}
	}
	r.Findings = engine.Evaluate(obj, ns)
	return r
}

// workloadKinds are the kinds whose children are judged at the parent (DESIGN invariant 1):
// a Pod of a ReplicaSet, a ReplicaSet of a Deployment, a Job of a CronJob.
var workloadKinds = map[schema.GroupKind]bool{
	{Group: "apps", Kind: "Deployment"}: true, {Group: "apps", Kind: "StatefulSet"}: true,
	{Group: "apps", Kind: "DaemonSet"}: true, {Group: "apps", Kind: "ReplicaSet"}: true,
	{Group: "batch", Kind: "Job"}: true, {Group: "batch", Kind: "CronJob"}: true,
	{Group: "", Kind: "ReplicationController"}: true,
}

// ownedByWorkload reports whether o's controller is a workload the audit judges itself. Objects
// controlled by anything else (an operator's custom resource, a Node for mirror pods) are
// judged on their own, as nothing else would judge them.
func ownedByWorkload(o client.Object) bool {
	ref := metav1.GetControllerOf(o)
	if ref == nil {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return false
	}
	return workloadKinds[schema.GroupKind{Group: gv.Group, Kind: ref.Kind}]
}

func (a *Auditor) excluded(namespace string) bool {
	return namespace == "kube-system" || slices.Contains(a.ExcludeNamespaces, namespace)
}
