package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestCorpus checks that the corpus is deterministic, holds exactly n objects,
// and that every document decodes strictly into its Kubernetes type, so no
// misspelt field slips past the scanners as an unknown key.
func TestCorpus(t *testing.T) {
	const n = 400
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if err := run(dir, n, 7, 5, 3, io.Discard); err != nil {
			t.Fatal(err)
		}
	}

	sep := regexp.MustCompile(`(?m)^---\n`)
	total := 0
	kinds := map[string]int{}
	err := filepath.WalkDir(a, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		other, err := os.ReadFile(filepath.Join(b, path[len(a):]))
		if err != nil || !bytes.Equal(data, other) {
			t.Errorf("%s differs between two runs with the same seed", path[len(a):])
		}
		for _, docText := range sep.Split(string(data), -1) {
			if len(bytes.TrimSpace([]byte(docText))) == 0 {
				continue
			}
			var meta struct{ Kind string }
			if err := yaml.Unmarshal([]byte(docText), &meta); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			var into any
			switch meta.Kind {
			case "Deployment":
				into = &appsv1.Deployment{}
			case "StatefulSet":
				into = &appsv1.StatefulSet{}
			case "DaemonSet":
				into = &appsv1.DaemonSet{}
			case "ReplicaSet":
				into = &appsv1.ReplicaSet{}
			case "Job":
				into = &batchv1.Job{}
			case "CronJob":
				into = &batchv1.CronJob{}
			case "Pod":
				into = &corev1.Pod{}
			case "Service":
				into = &corev1.Service{}
			case "ConfigMap":
				into = &corev1.ConfigMap{}
			default:
				t.Fatalf("%s: unexpected kind %q", path, meta.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(docText), into); err != nil {
				t.Fatalf("%s: %s: %v", path, meta.Kind, err)
			}
			total++
			kinds[meta.Kind]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != n {
		t.Errorf("corpus has %d objects, want %d", total, n)
	}
	if kinds["Deployment"] < n/3 {
		t.Errorf("only %d Deployments of %d objects; the mix should be about 45%%", kinds["Deployment"], n)
	}
}

func TestScalarQuoting(t *testing.T) {
	for _, s := range []string{"", "true", "No", "8080", "1.5", "0x1F", "*/15 * * * *", "@hourly",
		"-c", "a: b", "key:", "x #y", "25%", "until nc -z db 5432; do sleep 2; done", "server:\n  port: 8080\n"} {
		var got map[string]string
		if err := yaml.Unmarshal([]byte("k: "+scalar(s)), &got); err != nil {
			t.Fatalf("%q rendered as %s: %v", s, scalar(s), err)
		}
		if got["k"] != s {
			t.Errorf("%q rendered as %s reads back as %q", s, scalar(s), got["k"])
		}
	}
}
