package scan

import (
	"fmt"
	"os"
	"strings"

	"github.com/openvex/go-vex/pkg/vex"

	"github.com/outrider-sec/outrider/api/v1alpha1"
	"github.com/outrider-sec/outrider/internal/imagetrust/vuln"
	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/report"
)

// DefaultMaxReportAge is the report age limit of the default policy when reports are given.
const DefaultMaxReportAge = "168h"

// defaultVulnPolicy is the default policy with a vulnerability gate: what scan enforces without
// --policy when it is given reports (failOn high, maxReportAge 168h).
func defaultVulnPolicy() (*policy.Policy, error) {
	return policy.Compile("default", "", &v1alpha1.SecurityPolicySpec{
		Images: &v1alpha1.ImagePolicy{Vulnerabilities: &v1alpha1.VulnerabilityPolicy{
			FailOn: v1alpha1.Severity(policy.SeverityHigh), MaxReportAge: DefaultMaxReportAge,
		}},
	})
}

// loadVulnData reads the VEX documents and the reports and applies the first to the second. A
// file that cannot be read or parsed is an input error naming it; the others are still used.
func loadVulnData(reportFiles, vexFiles []string) ([]*vuln.EvaluatedReport, []report.InputError) {
	var errs []report.InputError
	fail := func(file, what string, err error) {
		msg := strings.TrimPrefix(err.Error(), file+": ")
		errs = append(errs, report.InputError{File: file, Message: what + ": " + msg})
	}
	var docs []*vex.VEX
	for _, file := range vexFiles {
		data, err := readInput(file)
		if err == nil {
			var doc *vex.VEX
			if doc, err = vuln.ParseVEX(data, file); err == nil {
				docs = append(docs, doc)
				continue
			}
		}
		fail(file, "VEX document", err)
	}
	var reports []*vuln.EvaluatedReport
	for _, file := range reportFiles {
		data, err := readInput(file)
		if err == nil {
			var r *vuln.Report
			if r, err = vuln.Parse(data, file); err == nil {
				reports = append(reports, vuln.Evaluate(r, file, docs))
				continue
			}
		}
		fail(file, "vulnerability report", err)
	}
	return reports, errs
}

func readInput(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading: %w", unwrapPathError(err))
	}
	return data, nil
}

// judgeReportsAlone evaluates each report as a resource of kind Image named by its artifact,
// for a scan given reports and no manifests.
func (e *evaluator) judgeReportsAlone(reports []*vuln.EvaluatedReport) *report.Result {
	part := &report.Result{}
	ns := policy.Namespace{Name: e.defaultNS, Labels: map[string]string{"kubernetes.io/metadata.name": e.defaultNS}}
	for _, r := range reports {
		name := r.Artifact.Label()
		part.Resources = append(part.Resources, report.ResourceRef{
			Resource: policy.Resource{Kind: policy.ImageKind, Name: name}, File: r.Source,
		})
		part.Findings = append(part.Findings, e.engine.EvaluateImage(policy.ImageSubject{Name: name, Report: r}, ns)...)
	}
	return part
}
