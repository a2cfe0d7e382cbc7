package install

import (
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Defaults of Options.
const (
	DefaultReleaseName = "outrider"
	DefaultNamespace   = "outrider-system"
	DefaultTimeout     = 3 * time.Minute
)

// offlineKubeVersion is the Kubernetes version a chart is rendered for without a cluster (the
// Helm SDK would otherwise assume v1.20, older than the chart's kubeVersion). It is the minor
// version of the k8s.io modules Outrider is built with.
const offlineKubeVersion = "v1.34.0"

// Options say what to install where. Zero values take the defaults.
type Options struct {
	// ReleaseName is the Helm release (default "outrider").
	ReleaseName string
	// Namespace is where the controller runs and the release is recorded (default
	// "outrider-system"). Install creates it when missing.
	Namespace string
	// KubeConfig is the kubeconfig file; empty means $KUBECONFIG or ~/.kube/config.
	KubeConfig string
	// Context is the kubeconfig context; empty means its current context.
	Context string
	// ValueFiles are values files merged in order (helm -f).
	ValueFiles []string
	// Set are key=value expressions applied after the files (helm --set).
	Set []string
	// Wait waits until the controller is ready after installing, up to Timeout.
	Wait bool
	// Timeout bounds the wait and each Kubernetes operation (default 3m).
	Timeout time.Duration
	// Progress receives one line per step ("installing…", "done"); nil discards them.
	Progress io.Writer
	// Debug receives the Helm SDK's own log; nil discards it.
	Debug io.Writer
}

func (o *Options) defaults() error {
	if o.ReleaseName == "" {
		o.ReleaseName = DefaultReleaseName
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Debug == nil {
		o.Debug = io.Discard
	}
	return o.Validate()
}

// Validate reports options that cannot work, before anything is read or contacted.
func (o *Options) Validate() error {
	if o.ReleaseName != "" {
		if errs := validation.IsDNS1123Subdomain(o.ReleaseName); len(errs) > 0 || len(o.ReleaseName) > 53 {
			return fmt.Errorf("release name %q must be a DNS subdomain of at most 53 characters", o.ReleaseName)
		}
	}
	if o.Namespace != "" {
		if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
			return fmt.Errorf("namespace %q: %s", o.Namespace, errs[0])
		}
	}
	if o.Timeout < 0 {
		return fmt.Errorf("timeout %s must not be negative", o.Timeout)
	}
	return CheckSet(o.Set)
}

// debugLog adapts w to the Helm SDK's printf-style log.
func debugLog(w io.Writer) func(format string, v ...any) {
	return func(format string, v ...any) {
		fmt.Fprintf(w, format+"\n", v...)
	}
}
