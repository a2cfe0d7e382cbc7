package controller

import (
	"context"
	"testing"
	"time"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func getCRD(c client.Reader, name string) (*apiextensionsv1.CustomResourceDefinition, error) {
	var crd apiextensionsv1.CustomResourceDefinition
	err := c.Get(context.Background(), client.ObjectKey{Name: name}, &crd)
	return &crd, err
}

func TestEmbeddedCRDs(t *testing.T) {
	crds, err := policyReportCRDs()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]apiextensionsv1.ResourceScope{
		"policyreports.wgpolicyk8s.io":        apiextensionsv1.NamespaceScoped,
		"clusterpolicyreports.wgpolicyk8s.io": apiextensionsv1.ClusterScoped,
	}
	if len(crds) != len(want) {
		t.Fatalf("decoded %d CRDs, want %d", len(crds), len(want))
	}
	for _, crd := range crds {
		scope, ok := want[crd.Name]
		if !ok || crd.Spec.Scope != scope {
			t.Errorf("CRD %s scope %s, want one of %v", crd.Name, crd.Spec.Scope, want)
		}
		if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != policyReportGVK.Version || crd.Spec.Group != policyReportGVK.Group {
			t.Errorf("CRD %s does not serve %s", crd.Name, policyReportGVK.GroupVersion())
		}
	}
}

// TestEmbeddedCRDsValidate runs the API server's own CRD validation (structural schema
// included), so a CRD the API server would refuse fails here, not at install time.
func TestEmbeddedCRDsValidate(t *testing.T) {
	crds, err := policyReportCRDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range crds {
		apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(crd)
		var internal apiextensions.CustomResourceDefinition
		if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(crd, &internal, nil); err != nil {
			t.Fatal(err)
		}
		if errs := validation.ValidateCustomResourceDefinition(context.Background(), &internal); len(errs) > 0 {
			t.Errorf("%s: %v", crd.Name, errs.ToAggregate())
		}
	}
}

func TestInstallCRDsCreatesMissing(t *testing.T) {
	c := newFakeClient(t)
	var waited []string
	established := func(_ context.Context, name string) error { waited = append(waited, name); return nil }
	if err := installCRDs(context.Background(), c, c, established, discardLog()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"policyreports.wgpolicyk8s.io", "clusterpolicyreports.wgpolicyk8s.io"} {
		if _, err := getCRD(c, name); err != nil {
			t.Errorf("CRD %s not created: %v", name, err)
		}
	}
	if len(waited) != 2 {
		t.Errorf("waited for %v, want both CRDs", waited)
	}
}

func TestInstallCRDsLeavesExistingAlone(t *testing.T) {
	theirs := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "policyreports.wgpolicyk8s.io", Labels: map[string]string{"app.kubernetes.io/managed-by": "kyverno"}},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{Group: "wgpolicyk8s.io", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "policyreports", Kind: "PolicyReport"}},
	}
	c := newFakeClient(t, theirs)
	before, err := getCRD(c, theirs.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := installCRDs(context.Background(), c, c, func(context.Context, string) error { return nil }, discardLog()); err != nil {
		t.Fatal(err)
	}
	after, err := getCRD(c, theirs.Name)
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion || after.Labels["app.kubernetes.io/managed-by"] != "kyverno" ||
		len(after.Spec.Versions) != 0 || len(after.Annotations) != 0 {
		t.Errorf("existing CRD was modified: %+v", after.ObjectMeta)
	}
	if _, err := getCRD(c, "clusterpolicyreports.wgpolicyk8s.io"); err != nil {
		t.Errorf("missing CRD not created: %v", err)
	}
}

func TestPollEstablished(t *testing.T) {
	ready := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "ready.example.com"},
		Status: apiextensionsv1.CustomResourceDefinitionStatus{Conditions: []apiextensionsv1.CustomResourceDefinitionCondition{
			{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionTrue},
			{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue},
		}}}
	pending := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "pending.example.com"}}
	c := newFakeClient(t, ready, pending)
	wait := pollEstablished(c, 300*time.Millisecond)
	if err := wait(context.Background(), ready.Name); err != nil {
		t.Errorf("established CRD: %v", err)
	}
	if err := wait(context.Background(), pending.Name); err == nil {
		t.Error("a CRD that is never established: no error")
	}
	if err := wait(context.Background(), "missing.example.com"); err == nil {
		t.Error("a missing CRD: no error")
	}
}
