package workload

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds the decoder arbitrary bytes: it must never panic or hang, and every error
// must name the file. The seed corpus (below and testdata/fuzz/FuzzDecode) runs in make test.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x}]}\n",
		"---\n---\n",
		`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[]}}}}]}`,
		"[1, 2",
		"apiVersion: batch/v1\nkind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {containers: 5}}}}}\n",
		"a: &a [*a, *a]\nb: *a\n",
		"apiVersion: v1\nkind: Pod\nspec: !!binary aGVsbG8=\n",
		"\ufeffapiVersion: v1\nkind: ConfigMap\n",
	}
	if examples, err := filepath.Glob("../../test/fixtures/*.yaml"); err == nil {
		for _, e := range examples {
			if data, err := os.ReadFile(e); err == nil {
				seeds = append(seeds, string(data))
			}
		}
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, errs := Decode("fuzz.yaml", data)
		for _, e := range errs {
			if e.File != "fuzz.yaml" || e.Message == "" {
				t.Fatalf("error without file or message: %+v", e)
			}
		}
		for _, o := range objs {
			if o.Kind == "" || o.APIVersion == "" {
				t.Fatalf("object without kind or apiVersion: %+v", o)
			}
			if o.Template != nil {
				_ = AllContainers(o.Template.Spec, o.Template.Path)
			}
		}
	})
}
