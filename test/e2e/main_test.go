//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// What the suite assumes about the installation (deploy/charts/outrider, `outrider install`).
const (
	outriderNamespace = "outrider-system"
	validatingConfig  = "outrider-validating"
	mutatingConfig    = "outrider-mutating"
	defaultPolicy     = "default"
	testImage         = "127.0.0.1:5000/busybox:outrider"
)

// cluster holds the clients every test shares. It is set up once by TestMain.
type cluster struct {
	root       string // the repository's root
	kubeconfig string
	kubectl    string
	cfg        *rest.Config
	cs         kubernetes.Interface
	dyn        dynamic.Interface
	mapper     *restmapper.DeferredDiscoveryRESTMapper
	// controller is the controller Deployment, found by looking at what the chart installed.
	controller *appsv1.Deployment
}

var env *cluster

func TestMain(m *testing.M) {
	c, err := connect()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n(bring the local cluster up with `make up`; see docs/local-cluster.md)\n", err)
		os.Exit(1)
	}
	env = c
	os.Exit(m.Run())
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func connect() (*cluster, error) {
	root := repoRoot()
	c := &cluster{
		root:       root,
		kubeconfig: filepath.Join(root, ".outrider", "kubeconfig"),
		kubectl:    filepath.Join(root, ".outrider", "bin", "kubectl"),
	}
	if v := os.Getenv("OUTRIDER_KUBECONFIG"); v != "" {
		c.kubeconfig = v
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig %s: %w", c.kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cfg.Timeout = 30 * time.Second
	// Admission warnings are asserted where they matter (clientWithWarnings), not logged.
	cfg.WarningHandler = rest.NoWarnings{}
	c.cfg = cfg
	if c.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.cs.Discovery()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.cs.Discovery().ServerVersion(); err != nil {
		return nil, fmt.Errorf("the cluster does not answer: %w", err)
	}
	deploys, err := c.cs.AppsV1().Deployments(outriderNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing deployments in %s: %w", outriderNamespace, err)
	}
	for i := range deploys.Items {
		d := &deploys.Items[i]
		if d.Name == "outrider-controller" || strings.Contains(d.Name, "controller") {
			c.controller = d
			break
		}
	}
	if c.controller == nil {
		return nil, fmt.Errorf("outrider is not installed: no controller Deployment in %s", outriderNamespace)
	}
	return c, nil
}
