package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/outrider-sec/outrider/internal/imagetrust/vuln"
)

func TestCheckImageReportAge(t *testing.T) {
	const msgPrefix = `image "registry.example.com/app:1.0": the trivy 0.57.1 report of `
	tests := []struct {
		name    string
		policy  string
		report  *vuln.EvaluatedReport
		require bool
		want    []vulnResult
	}{
		{"fresh", `images: {vulnerabilities: {maxReportAge: 168h}}`, report(testNow.Add(-167 * time.Hour)), false, nil},
		{"stale", `images: {vulnerabilities: {maxReportAge: 168h}}`, report(testNow.Add(-9*24*time.Hour - 3*time.Hour)), false, []vulnResult{{"image.reportAge", "high", "spec.containers[0].image",
			msgPrefix + "2026-11-14 (app.json) is 9d3h old, older than maxReportAge 168h0m0s"}}},
		{"stale by minutes", `images: {vulnerabilities: {maxReportAge: 1h}}`, report(testNow.Add(-90 * time.Minute)), false, []vulnResult{{"image.reportAge", "high", "spec.containers[0].image",
			msgPrefix + "2026-11-23 (app.json) is 1h30m0s old, older than maxReportAge 1h0m0s"}}},
		{"no age limit", `images: {vulnerabilities: {}}`, report(testNow.Add(-1000 * time.Hour)), false, nil},
		{"no creation time", `images: {vulnerabilities: {maxReportAge: 7d}}`, report(time.Time{}), false, []vulnResult{{"image.reportAge", "high", "spec.containers[0].image",
			`image "registry.example.com/app:1.0": the trivy 0.57.1 report (app.json) does not say when the scan ran, so its age cannot be checked against maxReportAge 168h0m0s`}}},
		{"no report, none required", `images: {vulnerabilities: {maxReportAge: 7d}}`, nil, false, nil},
		{"no report, one required", `images: {vulnerabilities: {}}`, nil, true, []vulnResult{{"image.reportAge", "high", "spec.containers[0].image",
			`image "registry.example.com/app:1.0" has no vulnerability report`}}},
		{"no gate", `{}`, report(time.Time{}), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := fakeImageData{reports: map[string]*vuln.EvaluatedReport{"registry.example.com/app:1.0": tt.report}, require: tt.require}
			got := vulnResults(evaluateWithData(t, tt.policy, data, nil), "image.reportAge")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestEvaluateImageAlone(t *testing.T) {
	stale := report(testNow.Add(-30*24*time.Hour), "CVE-2 critical 9.8 2.0", "CVE-3 low 2.0 -")
	policies := []*Policy{
		compile(t, `images: {vulnerabilities: {maxReportAge: 168h}}`),
		compile(t, `{match: {kinds: [Deployment]}, images: {vulnerabilities: {}}}`), // does not match kind Image
		compile(t, `{mode: Audit, images: {vulnerabilities: {}}, exceptions: [{checks: ["*"], resources: [{kind: Image, name: "registry.example.com/*"}], reason: "accepted"}]}`),
	}
	e := NewEngine(policies, func() time.Time { return testNow })
	got := e.EvaluateImage(ImageSubject{Name: vulnImage, Report: stale}, Namespace{Name: "default"})
	type short struct {
		Check, Mode, Kind, Name, File, Path string
		Severity                            Severity
		Suppressed                          bool
	}
	var gotShort []short
	for _, f := range got {
		gotShort = append(gotShort, short{f.Check, string(f.Mode), f.Resource.Kind, f.Resource.Name, f.File, f.Path, f.Severity, f.Suppressed != nil})
	}
	want := []short{
		{"image.vulnerabilities", "Enforce", "Image", vulnImage, "app.json", "", SeverityCritical, false},
		{"image.reportAge", "Enforce", "Image", vulnImage, "app.json", "", SeverityHigh, false},
		{"image.vulnerabilities", "Audit", "Image", vulnImage, "app.json", "", SeverityCritical, true},
	}
	if diff := cmp.Diff(want, gotShort); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
	if e.imageData != nil || e.WithImageData(fakeImageData{}).imageData == nil {
		t.Error("WithImageData changed the engine or did not attach the data")
	}
}
