package workload

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

// yamlJSONFuzzSeeds are corpus-like documents: what Helm and hand-written manifests look like.
var yamlJSONFuzzSeeds = []string{
	"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app.kubernetes.io/name: web\n  annotations:\n    prometheus.io/scrape: \"true\"\nspec:\n  replicas: 3\n  template:\n    spec:\n      securityContext: {}\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:v1.2.3\n          args: [\"--port=8080\", -v]\n          ports:\n            - containerPort: 8080\n              protocol: TCP\n          resources:\n            limits: {cpu: 500m, memory: 1Gi}\n      volumes:\n      - name: tmp\n        emptyDir: {}\n",
	"# Source: chart/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\ndata:\n  a.conf: |\n    key = value\n\n    # comment\n  b: >-\n    folded\n    text\n  c: 'it''s'\n  d: \"\\u00e9\\t<&>\"\n",
	"apiVersion: batch/v1\nkind: CronJob\nspec:\n  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n          - name: job\n            command:\n            - /bin/sh\n            - -c\n            - |\n              echo hi\n              exit 0\n",
}

// FuzzYAMLToJSON is a differential fuzzer: whatever the fast path accepts, it must convert
// exactly as sigs.k8s.io/yaml does, and it must never accept what sigs.k8s.io/yaml rejects.
// The seeds (the table cases, every fixture document, corpus-like documents and
// testdata/fuzz/FuzzYAMLToJSON) run in make test.
func FuzzYAMLToJSON(f *testing.F) {
	for _, tc := range yamlJSONCases {
		f.Add([]byte(tc.in))
	}
	for _, s := range yamlJSONFuzzSeeds {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "test", "fixtures", "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, d := range splitYAML(data) {
			f.Add(d.data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, fast := fastYAMLToJSON(data)
		if !fast {
			return
		}
		want, err := yaml.YAMLToJSON(data)
		if err != nil {
			t.Fatalf("fast path accepted what sigs.k8s.io/yaml rejects (%v):\n%q\ngot %s", err, data, got)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("fast path differs on\n%q\n got %s\nwant %s", data, got, want)
		}
	})
}
