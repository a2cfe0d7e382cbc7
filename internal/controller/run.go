package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/admission"
	"github.com/outrider-sec/outrider/internal/admission/servingcert"
)

// Webhook paths, as the Helm chart's webhook configurations call them.
const (
	PathValidateWorkloads = "/validate/workloads"
	PathValidateConnect   = "/validate/connect"
	PathMutateWorkloads   = "/mutate/workloads"
	PathValidatePolicies  = "/validate/policies"
	// PathValidateAccessPolicies refuses malformed AccessPolicies.
	PathValidateAccessPolicies = "/validate/accesspolicies"
)

// LeaderElectionID names the lease the replicas elect their leader with. The Helm chart's Role
// grants the lease by this name (deploy/charts/outrider/templates/rbac.yaml): change both.
const LeaderElectionID = "outrider-controller"

// Run starts the controller and blocks until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, opts Options, log *slog.Logger) error {
	if err := opts.defaults(); err != nil {
		return err
	}
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	if err := AddAuditScheme(scheme); err != nil {
		return err
	}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building the client: %w", err)
	}
	certs := servingcert.New(clientset, servingcert.Config{
		Namespace: opts.Namespace, SecretName: opts.CertSecret, ServiceName: opts.ServiceName,
		ValidatingWebhooks: nonEmpty(opts.ValidatingWebhook), MutatingWebhooks: nonEmpty(opts.MutatingWebhook),
	}, log.With("component", "servingcert"))

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:  opts.HealthAddr,
		LeaderElection:          opts.LeaderElect,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: opts.Namespace,
		// A replica that stops hands the lease over at once, so after a rollout or a restart
		// policy status and reports resume without waiting out the lease (15 s).
		LeaderElectionReleaseOnCancel: true,
		WebhookServer: webhook.NewServer(webhook.Options{
			Port: opts.WebhookPort,
			// The certificate comes from memory (servingcert), never from files, so it rotates
			// without a restart. TLS 1.2 is the API server's floor for webhooks.
			TLSOpts: []func(*tls.Config){func(c *tls.Config) {
				c.GetCertificate = certs.GetCertificate
				c.MinVersion = tls.VersionTLS12
			}},
		}),
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	policies := NewPolicyCache(mgr.GetCache(), log.With("component", "policies"))
	if opts.ReadPullSecrets {
		policies.Secrets = secretReader(mgr.GetAPIReader())
	}
	facts, err := newImageFacts(opts, mgr.GetAPIReader(), log)
	if err != nil {
		return err
	}
	mesh, optOut, err := meshConfig(ctx, &opts, mgr.GetAPIReader())
	if err != nil {
		return err
	}
	var signer admission.ProvenanceSigner
	if opts.Mesh != nil {
		s, err := loadProvenanceKey(ctx, clientset, opts.Namespace, opts.Mesh.ProvenanceSecret, opts.Mesh.ProvenanceKeys)
		if err != nil {
			return err
		}
		signer = s
	}
	if err := mgr.Add(policies); err != nil {
		return err
	}
	if err := mgr.Add(everyReplica(func(ctx context.Context) error { certs.Run(ctx, time.Minute); return nil })); err != nil {
		return err
	}
	trail := &admission.Trail{
		Log:     log.With("component", "admission"),
		Events:  mgr.GetEventRecorderFor("outrider-controller"),
		Metrics: admission.NewMetrics(metrics.Registry),
	}
	lookups := &clusterLookups{cached: mgr.GetClient(), live: mgr.GetAPIReader()}
	drain := &drainer{delay: DrainDelay}
	if err := mgr.Add(everyReplica(func(ctx context.Context) error { return drain.run(ctx, DrainAddr) })); err != nil {
		return err
	}
	server := &drainingServer{Server: mgr.GetWebhookServer(), drain: drain}
	server.Register(PathValidateWorkloads, &webhook.Admission{Handler: &admission.Handler{
		Webhook: "workloads", Trail: trail,
		Decider: &admission.WorkloadDecider{Engines: policies.Engine, Namespaces: lookups, Images: facts, FailOn: opts.FailOn,
			Mesh: mesh, OptOut: optOut},
	}})
	server.Register(PathValidateConnect, &webhook.Admission{Handler: &admission.Handler{
		Webhook: "connect", Trail: trail,
		Decider: &admission.ConnectDecider{Pods: lookups, ExemptGroups: opts.ExecExemptGroups},
	}})
	server.Register(PathValidatePolicies, &webhook.Admission{Handler: &admission.Handler{
		Webhook: "policies", Trail: trail, Decider: admission.PolicyDecider{},
	}})
	server.Register(PathValidateAccessPolicies, &webhook.Admission{Handler: &admission.Handler{
		Webhook: "accesspolicies", Trail: trail, Decider: admission.AccessPolicyDecider{},
	}})
	server.Register(PathMutateWorkloads, &webhook.Admission{Handler: &admission.Handler{
		Webhook: "mutate", Trail: trail, Decider: &admission.MutateDecider{Engines: policies.Engine, Namespaces: lookups, Resolver: facts, Mesh: mesh,
			Images: facts, Provenance: signer},
	}})

	if opts.Mesh != nil && opts.Mesh.NetworkPolicies {
		if err := (&netpolReconciler{client: mgr.GetClient(), log: log.With("component", "networkpolicies")}).setup(mgr); err != nil {
			return err
		}
	}
	if err := (&statusReconciler{client: mgr.GetClient(), secrets: policies.Secrets}).setup(mgr); err != nil {
		return err
	}
	auditor := &Auditor{Reader: mgr.GetAPIReader(), Writer: mgr.GetClient(), Engines: policies.Engine,
		Interval: opts.AuditInterval, Log: log.With("component", "audit"), Metrics: NewAuditMetrics(metrics.Registry),
		ExcludeNamespaces: []string{opts.Namespace}, Images: facts.auditData,
		Events: mgr.GetEventRecorderFor("outrider-audit")}
	policies.OnChange(auditor.Trigger)
	facts.vex.onChange = auditor.Trigger
	if err := mgr.Add(facts.vex); err != nil {
		return err
	}
	if err := mgr.Add(auditor); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	// Ready only when a request would be decided with the cluster's policies and the API server
	// can reach us over TLS: until then the failure policy, not a half-loaded state, decides.
	if err := mgr.AddReadyzCheck("policies-and-certificate", func(*http.Request) error {
		return errors.Join(policies.Ready(), certs.Ready())
	}); err != nil {
		return err
	}
	log.Info("starting the controller", "namespace", opts.Namespace, "failOn", opts.FailOn, "leaderElect", opts.LeaderElect)
	return mgr.Start(ctx)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// drainingServer registers webhook handlers behind the drainer.
type drainingServer struct {
	webhook.Server
	drain *drainer
}

func (s *drainingServer) Register(path string, h http.Handler) {
	s.Server.Register(path, s.drain.wrap(h))
}

// everyReplica is a runnable that runs on every replica, leader or not.
type everyReplica func(ctx context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }

var _ manager.LeaderElectionRunnable = everyReplica(nil)
