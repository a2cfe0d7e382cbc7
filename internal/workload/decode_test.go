package workload

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type decoded struct {
	Ref  string
	Line int
	Spec string
}

func summarize(objs []*Object) []decoded {
	var out []decoded
	for _, o := range objs {
		d := decoded{Ref: o.Ref(), Line: o.Line}
		if o.Template != nil {
			d.Spec = o.Template.Path
		}
		out = append(out, d)
	}
	return out
}

func TestDecodeMultiDocumentYAML(t *testing.T) {
	in := `# Source: chart/templates/sa.yaml
---
# Source: chart/templates/deploy.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers: [{name: app, image: nginx}]
---
---
# an empty document above, a comment-only one here
---
apiVersion: v1
kind: Service
metadata: {name: web}
...
`
	objs, errs := Decode("helm.yaml", []byte(in))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []decoded{
		{"Deployment shop/web", 4, "spec.template.spec"},
		{"Service web", 17, ""},
	}
	if diff := cmp.Diff(want, summarize(objs)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDecodeJSONAndLists(t *testing.T) {
	in := `{"apiVersion":"v1","kind":"List","items":[
  {"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"x"}]}},
  {"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"b"},"spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":{"spec":{"containers":[]}}}}}}
]}
{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`
	objs, errs := Decode("list.json", []byte(in))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []decoded{
		{"Pod a", 1, "spec"},
		{"CronJob b", 1, "spec.jobTemplate.spec.template.spec"},
		{"ConfigMap c", 5, ""},
	}
	if diff := cmp.Diff(want, summarize(objs)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDecodeYAMLList(t *testing.T) {
	in := "apiVersion: v1\nkind: DeploymentList\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d}\n  spec: {template: {spec: {containers: []}}}\n"
	objs, errs := Decode("l.yaml", []byte(in))
	if len(errs) > 0 || len(objs) != 1 || objs[0].Kind != "Deployment" {
		t.Fatalf("objs=%v errs=%v", summarize(objs), errs)
	}
}

// A broken document is reported with its file and line; the documents around it still decode.
func TestDecodeBrokenDocumentsKeepTheRest(t *testing.T) {
	in := `apiVersion: v1
kind: Pod
metadata: {name: before}
spec: {containers: []}
---
apiVersion: v1
kind: Pod
metadata:
  name: broken
   badindent: x
---
kind: Pod
metadata: {name: noversion}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: typo}
spec:
  template:
    spec:
      containers: [{name: c, image: x, securityContex: {privileged: true}}]
---
apiVersion: v1
kind: Pod
metadata: {name: wrongtype}
spec: {containers: "nope"}
---
- just
- a list
---
apiVersion: v1
kind: Pod
metadata: {name: after}
spec: {containers: []}
`
	objs, errs := Decode("mixed.yaml", []byte(in))
	if diff := cmp.Diff([]decoded{{"Pod before", 1, "spec"}, {"Pod after", 31, "spec"}}, summarize(objs)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	wantErrs := []struct {
		line int
		has  string
	}{
		{10, "invalid YAML"},
		{12, "no apiVersion"},
		{15, `unknown field "spec.template.spec.containers[0].securityContex"`},
		{23, "Pod wrongtype"},
		{28, "must be an object"},
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(wantErrs), errs)
	}
	for i, w := range wantErrs {
		if errs[i].File != "mixed.yaml" || errs[i].Line != w.line || !strings.Contains(errs[i].Message, w.has) {
			t.Errorf("error %d = %v, want line %d containing %q", i, errs[i], w.line, w.has)
		}
	}
}

func TestDecodeEmptyInput(t *testing.T) {
	for _, in := range []string{"", "\n\n", "# only a comment\n", "---\n---\n", "null", "{}"} {
		objs, errs := Decode("e.yaml", []byte(in))
		if len(objs) != 0 {
			t.Errorf("%q: decoded %v", in, summarize(objs))
		}
		if in == "{}" && len(errs) != 1 {
			t.Errorf("{}: want an error for the missing apiVersion and kind, got %v", errs)
		}
	}
}

func TestListNestingIsBounded(t *testing.T) {
	in := `{"apiVersion":"v1","kind":"List","items":[`
	in = strings.Repeat(in, 20) + strings.Repeat("]}", 20)
	_, errs := Decode("deep.json", []byte(in))
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "nested more than") {
		t.Errorf("errs = %v", errs)
	}
}

func TestAllContainers(t *testing.T) {
	objs, _ := Decode("p.yaml", []byte(`apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers: [{name: i, image: x}]
  containers: [{name: a, image: x}, {name: b, image: x}]
  ephemeralContainers: [{name: e, image: x}]
`))
	var got []string
	for _, c := range AllContainers(objs[0].Template.Spec, objs[0].Template.Path) {
		got = append(got, c.Container.Name+"@"+c.Path)
	}
	want := []string{"a@spec.containers[0]", "b@spec.containers[1]", "i@spec.initContainers[0]", "e@spec.ephemeralContainers[0]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
