package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/imagetrust"
	"github.com/outrider-sec/outrider/internal/imagetrust/registry"
	"github.com/outrider-sec/outrider/internal/policy"
	"github.com/outrider-sec/outrider/internal/report"
	"github.com/outrider-sec/outrider/internal/scan"
	"github.com/outrider-sec/outrider/internal/version"
)

type scanOptions struct {
	output         string
	policyFiles    []string
	failOn         string
	kustomizations []string
	namespace      string
	showSuppressed bool
	color          string
	vulnReports    []string
	vexFiles       []string
	requireReport  bool
	offline        bool
	registryTO     time.Duration

	severity policy.Severity
	policies []*policy.Policy
}

func newScanCommand(s command.Streams) *cobra.Command {
	o := &scanOptions{}
	cmd := &cobra.Command{
		Use:   "scan [flags] [PATH...]",
		Short: "Check manifests against security policy, as admission would",
		Long: `Scan Kubernetes manifests with the same policy engine the admission controller runs, so a
pipeline fails before a workload the cluster would refuse is ever applied.

PATH is a file, a directory (searched recursively for *.yaml, *.yml and *.json) or - for
standard input. Files may hold many YAML documents (rendered Helm output works as is), JSON,
or a List. Every container list counts: containers, initContainers and ephemeralContainers.

Without --policy, the default policy applies: Pod Security Standards "restricted" plus
Outrider's default-on checks (see 'outrider checks'), in Enforce mode. A policy file holds
ClusterSecurityPolicy and SecurityPolicy objects, the same YAML you apply to the cluster.

Vulnerability gates: --vuln-report FILE (repeatable) reads a Trivy JSON, Grype JSON or SARIF
report, or a cosign vulnerability attestation (in-toto statement or DSSE envelope; a file is
trusted as given, while attestations read from the registry must be signed by an authority the
policy trusts), and --vex FILE (repeatable) OpenVEX documents whose not_affected and
fixed statements remove findings for the images they name. With manifests, a report applies to
the containers whose image matches it (digest first, then registry, repository and tag); a
container without a report is not a finding unless --require-vuln-report. With no manifests,
each report is judged alone as a resource of kind Image named by its artifact. The checks are
image.vulnerabilities and image.reportAge, under spec.images.vulnerabilities; without --policy
the default policy then gains failOn: high and maxReportAge: 168h. A policy file that gives no
policy a vulnerabilities section is refused, so reports are never silently ignored.
See docs/scan-vulnerabilities.md.

Image trust: when a policy has spec.images.signatures or attestations, scan reads the matching
images' signatures and attestations from their registries (cosign's .sig/.att tags and the OCI
referrers), with your docker credentials, exactly as the admission controller does, and signed
cosign vulnerability attestations count as reports. --offline skips the registries: the images
those rules apply to are then findings, since nothing verified them. See docs/image-trust.md.

Exit codes:
  0  no finding at or above --fail-on from an Enforce policy
  1  at least one such finding
  2  an input could not be read or decoded, or the command was called wrongly
     (the other inputs are still scanned and reported)`,
		Example: `  outrider scan manifests/
  helm template my-chart | outrider scan -
  outrider scan --kustomize overlays/prod -o sarif > outrider.sarif
  outrider scan --policy policy.yaml --fail-on medium k8s/
  trivy image -f json -o api.json registry.example.com/shop/api:1.4.2
  outrider scan --vuln-report api.json --vex api.openvex.json k8s/
  outrider scan --vuln-report api.json                       # the report alone
  outrider scan --policy signed-images.yaml k8s/             # verifies signatures on the registry`,
		PreRunE: func(cmd *cobra.Command, args []string) error { return o.validate(args) },
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd, s, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "text", "output format: "+strings.Join(report.Formats, ", "))
	f.StringArrayVarP(&o.policyFiles, "policy", "p", nil, "policy file (repeatable); default: restricted plus default-on checks")
	f.StringVar(&o.failOn, "fail-on", "high", "lowest severity that fails the scan: critical, high, medium, low, info")
	f.StringArrayVarP(&o.kustomizations, "kustomize", "k", nil, "kustomization directory to render and scan (repeatable)")
	f.StringVarP(&o.namespace, "namespace", "n", "default", "namespace for objects that do not name one")
	f.BoolVar(&o.showSuppressed, "show-suppressed", false, "list suppressed findings in text output (they are always counted)")
	f.StringVar(&o.color, "color", "auto", "colour text output: auto, always, never")
	f.StringArrayVar(&o.vulnReports, "vuln-report", nil, "vulnerability report: Trivy/Grype JSON, SARIF or cosign vuln attestation (repeatable)")
	f.StringArrayVar(&o.vexFiles, "vex", nil, "OpenVEX document applied to the reports (repeatable)")
	f.BoolVar(&o.requireReport, "require-vuln-report", false, "an image with no matching --vuln-report is a finding (image.reportAge)")
	f.BoolVar(&o.offline, "offline", false, "do not contact registries: images under signature or attestation rules become findings")
	f.DurationVar(&o.registryTO, "registry-timeout", 10*time.Second, "bound of each registry request for image trust")
	return cmd
}

// registry is the image-trust front end of the scan, nil when offline. It uses the caller's
// docker credentials (~/.docker/config.json and credential helpers), as a pipeline would.
func (o *scanOptions) registry() *imagetrust.Verifier {
	if o.offline {
		return nil
	}
	return imagetrust.NewVerifier(imagetrust.Config{Client: registry.New(registry.Options{Timeout: o.registryTO})})
}

func (o *scanOptions) validate(args []string) error {
	if len(args) == 0 && len(o.kustomizations) == 0 && len(o.vulnReports) == 0 {
		return command.UsageError("nothing to scan: name files, directories, - for stdin, --kustomize DIR or --vuln-report FILE")
	}
	if len(o.vulnReports) == 0 && (len(o.vexFiles) > 0 || o.requireReport) {
		return command.UsageError("--vex and --require-vuln-report need --vuln-report")
	}
	if !slices.Contains(report.Formats, o.output) {
		return command.UsageError("unknown output format %q (want %s)", o.output, strings.Join(report.Formats, ", "))
	}
	sev, err := policy.ParseSeverity(o.failOn)
	if err != nil {
		return command.UsageError("--fail-on: %v", err)
	}
	o.severity = sev
	switch o.color {
	case "auto", "always", "never":
	default:
		return command.UsageError("--color must be auto, always or never, not %q", o.color)
	}
	for _, file := range o.policyFiles {
		data, err := os.ReadFile(file)
		if err != nil {
			return command.UsageError("reading policy: %v", err)
		}
		ps, err := policy.ParsePolicies(file, data, o.namespace)
		if err != nil {
			return command.UsageError("policy: %v", err)
		}
		o.policies = append(o.policies, ps...)
	}
	return o.validateVulnGate()
}

// validateVulnGate refuses reports that no policy would judge.
func (o *scanOptions) validateVulnGate() error {
	if len(o.vulnReports) == 0 || len(o.policies) == 0 {
		return nil
	}
	for _, p := range o.policies {
		if p.Vulnerabilities() != nil {
			return nil
		}
	}
	return command.UsageError("--vuln-report: no policy in --policy has spec.images.vulnerabilities, so the reports would not be judged")
}

func runScan(cmd *cobra.Command, s command.Streams, o *scanOptions, args []string) error {
	opts := report.Options{Color: colorFor(s.Out, o.color), ToolVersion: version.String(), ShowSuppressed: o.showSuppressed}
	out, err := report.NewStream(s.Out, o.output, opts)
	if err != nil {
		return &command.ExitError{Code: 2, Err: err}
	}
	summary, err := scan.Stream(cmd.Context(), scan.Options{
		Paths:             args,
		Kustomizations:    o.kustomizations,
		Stdin:             s.In,
		Policies:          o.policies,
		FailOn:            o.severity,
		Namespace:         o.namespace,
		VulnReports:       o.vulnReports,
		VEX:               o.vexFiles,
		RequireVulnReport: o.requireReport,
		Registry:          o.registry(),
		Keychain:          authn.DefaultKeychain,
	}, out.Add)
	if err != nil {
		return &command.ExitError{Code: 2, Err: fmt.Errorf("scan: %w", err)}
	}
	if err := out.Close(summary); err != nil {
		return &command.ExitError{Code: 2, Err: fmt.Errorf("writing the report: %w", err)}
	}
	if code := report.ExitCode(summary.Verdict); code != 0 {
		return &command.ExitError{Code: code}
	}
	return nil
}
