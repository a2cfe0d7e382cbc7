package controller

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// policyReportCRDsYAML are the community PolicyReport and ClusterPolicyReport CRDs
// (wgpolicyk8s.io/v1alpha2), installed when the cluster does not have them yet.
//
//go:embed crds/policyreports.yaml
var policyReportCRDsYAML []byte

// crdEstablishTimeout bounds the wait for a CRD the audit needs to be served.
const crdEstablishTimeout = 30 * time.Second

// AddAuditScheme registers what the audit reads and writes with typed objects beyond the
// client-go scheme: CustomResourceDefinitions. PolicyReports are written as unstructured
// objects, so they need no Go types.
func AddAuditScheme(s *runtime.Scheme) error {
	return apiextensionsv1.AddToScheme(s)
}

// policyReportCRDs decodes the embedded CRDs.
func policyReportCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(policyReportCRDsYAML), 4096)
	var crds []*apiextensionsv1.CustomResourceDefinition
	for {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		err := dec.Decode(crd)
		if errors.Is(err, io.EOF) {
			return crds, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decoding the embedded PolicyReport CRDs: %w", err)
		}
		if crd.Name == "" {
			continue // an empty document
		}
		crds = append(crds, crd)
	}
}

// establishedFunc waits until the named CRD is served.
type establishedFunc func(ctx context.Context, name string) error

// installCRDs creates the PolicyReport CRDs the cluster lacks and waits until both are served.
// A CRD that exists is never changed: another tool (Kyverno, the policy-reporter chart) may own
// it, and its schema is at least as complete as ours. established is injectable because a fake
// client has no API server to set the Established condition; production code passes
// pollEstablished.
func installCRDs(ctx context.Context, r client.Reader, w client.Writer, established establishedFunc, log *slog.Logger) error {
	crds, err := policyReportCRDs()
	if err != nil {
		return err
	}
	for _, crd := range crds {
		var existing apiextensionsv1.CustomResourceDefinition
		err := r.Get(ctx, client.ObjectKey{Name: crd.Name}, &existing)
		switch {
		case err == nil:
			log.Debug("CRD present, left as it is", "crd", crd.Name)
			continue
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("reading CRD %s: %w", crd.Name, err)
		}
		if err := w.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s: %w", crd.Name, err)
		}
		log.Info("CRD installed", "crd", crd.Name)
	}
	for _, crd := range crds {
		if err := established(ctx, crd.Name); err != nil {
			return err
		}
	}
	return nil
}

// pollEstablished returns an establishedFunc that reads the CRD through r until its
// Established condition is True, for at most timeout.
func pollEstablished(r client.Reader, timeout time.Duration) establishedFunc {
	return func(ctx context.Context, name string) error {
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := r.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			return crdEstablished(&crd), nil
		})
		if err != nil {
			return fmt.Errorf("waiting for CRD %s to be established: %w", name, err)
		}
		return nil
	}
}

func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}
