package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

type imageVerifyOptions struct {
	registryOptions
	keys                         []string
	identity, identityRegExp     string
	oidcIssuer, oidcIssuerRegExp string
	roots, tlogKey               string
	threshold                    int
	predicateType                string
	output                       string

	auths []*signature.Authority
}

func newImageVerifyCommand(s command.Streams) *cobra.Command {
	o := &imageVerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify IMAGE (--key FILE... | --certificate-identity ID --certificate-oidc-issuer URL --roots FILE)",
		Short: "Verify an image's signatures (or attestations), as cosign verify does",
		Long: `Verify the signatures the registry holds for the image's digest, in any format cosign writes:
the .sig tag, OCI 1.1 referrers, and Sigstore bundles. A tag is resolved to its digest first.

Authorities: each --key is one authority (a public key PEM, named by its file). Keyless
signatures (a certificate per signature, as Fulcio issues) need --certificate-identity (or
--certificate-identity-regexp), --certificate-oidc-issuer (or --certificate-oidc-issuer-regexp)
and --roots, the CA certificates to trust. With --tlog-key, the Rekor public key, each keyless
signature must carry a transparency-log entry signed by it, and its certificate must have been
valid when the entry was logged; without it, the certificate must be valid now. Regular
expressions match the whole value.

--threshold N requires N distinct authorities to have signed (two signatures by one key count
once). With --type, attestations of that predicate type are verified instead of signatures
(slsaprovenance, slsaprovenance1, vuln or a URI).

Exit codes: 0 verified, 1 not verified, 2 the command was called wrongly or the registry failed.`,
		Example: `  outrider image verify --key outrider.pub registry.example.com/shop/api:1.4.2
  outrider image verify --key ci.pub --key release.pub --threshold 2 -o json registry.example.com/shop/api@sha256:…
  outrider image verify --certificate-identity https://github.com/shop/api/.github/workflows/release.yml@refs/heads/main \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com --roots fulcio.pem --tlog-key rekor.pub IMAGE
  outrider image verify --key ci.pub --type slsaprovenance registry.example.com/shop/api:1.4.2`,
		Args:    cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error { return o.validate() },
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImageVerify(cmd, s, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.keys, "key", nil, "public key file (PEM) of a trusted signer (repeatable)")
	f.StringVar(&o.identity, "certificate-identity", "", "keyless: the signer identity (email or URI) the certificate must name")
	f.StringVar(&o.identityRegExp, "certificate-identity-regexp", "", "keyless: a regular expression the identity must match")
	f.StringVar(&o.oidcIssuer, "certificate-oidc-issuer", "", "keyless: the OIDC issuer the certificate must name")
	f.StringVar(&o.oidcIssuerRegExp, "certificate-oidc-issuer-regexp", "", "keyless: a regular expression the issuer must match")
	f.StringVar(&o.roots, "roots", "", "keyless: PEM file of the trusted CA root certificates")
	f.StringVar(&o.tlogKey, "tlog-key", "", "keyless: PEM file of the transparency log's (Rekor's) public key")
	f.IntVar(&o.threshold, "threshold", 1, "how many distinct authorities must have signed")
	f.StringVar(&o.predicateType, "type", "", "verify attestations of this predicate type instead of signatures")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	o.addFlags(f)
	return cmd
}

func (o *imageVerifyOptions) validate() error {
	if o.output != "text" && o.output != "json" {
		return command.UsageError("unknown output format %q (want text or json)", o.output)
	}
	if o.threshold < 1 {
		return command.UsageError("--threshold must be at least 1")
	}
	for _, k := range o.keys {
		data, err := os.ReadFile(k)
		if err != nil {
			return command.UsageError("reading key: %v", err)
		}
		a, err := signature.NewKeyAuthority(k, data)
		if err != nil {
			return command.UsageError("%v", err)
		}
		o.auths = append(o.auths, a)
	}
	keyless := o.identity != "" || o.identityRegExp != "" || o.oidcIssuer != "" || o.oidcIssuerRegExp != "" || o.roots != "" || o.tlogKey != ""
	if keyless {
		if o.roots == "" {
			return command.UsageError("keyless verification needs --roots, the trusted CA certificates")
		}
		k := signature.Keyless{Issuer: o.oidcIssuer, IssuerRegExp: o.oidcIssuerRegExp, Subject: o.identity, SubjectRegExp: o.identityRegExp}
		var err error
		if k.RootsPEM, err = os.ReadFile(o.roots); err != nil {
			return command.UsageError("reading roots: %v", err)
		}
		if o.tlogKey != "" {
			if k.TransparencyLogKeyPEM, err = os.ReadFile(o.tlogKey); err != nil {
				return command.UsageError("reading transparency log key: %v", err)
			}
		}
		a, err := signature.NewKeylessAuthority("keyless", k)
		if err != nil {
			return command.UsageError("%v (use --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp])", err)
		}
		o.auths = append(o.auths, a)
	}
	if len(o.auths) == 0 {
		return command.UsageError("name who must have signed: --key FILE, or --certificate-identity, --certificate-oidc-issuer and --roots")
	}
	if o.threshold > len(o.auths) {
		return command.UsageError("--threshold %d is more than the %d authorities given", o.threshold, len(o.auths))
	}
	return nil
}

// verifyReport is the JSON output of outrider image verify.
type verifyReport struct {
	Image         string                `json:"image"`
	Digest        string                `json:"digest"`
	Verified      bool                  `json:"verified"`
	Threshold     int                   `json:"threshold"`
	Signers       []string              `json:"signers"`
	PredicateType string                `json:"predicateType,omitempty"`
	Statements    []signature.Statement `json:"statements,omitempty"`
	Reasons       []string              `json:"reasons,omitempty"`
}

func runImageVerify(cmd *cobra.Command, s command.Streams, o *imageVerifyOptions, image string) error {
	ctx, cancel := o.context(cmd.Context())
	defer cancel()
	d, err := o.resolve(ctx, image)
	if err != nil {
		return err
	}
	ev, err := signature.Fetch(ctx, d, o.remoteOptions()...)
	if err != nil {
		return &command.ExitError{Code: 2, Err: err}
	}
	rep := verifyReport{Image: image, Digest: d.String(), Threshold: o.threshold}
	now := time.Now()
	if o.predicateType != "" {
		rep.PredicateType = signature.PredicateTypeURI(o.predicateType)
		r := ev.VerifyAttestations(rep.PredicateType, o.auths, now)
		rep.Signers, rep.Statements, rep.Reasons = r.Signers(), r.Statements, r.Reasons
	} else {
		r := ev.VerifySignatures(o.auths, now)
		rep.Signers, rep.Reasons = r.Signers, r.Reasons
	}
	if rep.Signers == nil {
		rep.Signers = []string{}
	}
	rep.Verified = len(rep.Signers) >= o.threshold
	if o.output == "json" {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = writeVerifyText(s.Out, rep)
	}
	if err != nil {
		return err
	}
	if !rep.Verified {
		return &command.ExitError{Code: 1}
	}
	return nil
}

func writeVerifyText(w io.Writer, r verifyReport) error {
	what := "signatures"
	if r.PredicateType != "" {
		what = "attestations of type " + r.PredicateType
	}
	var b strings.Builder
	verdict := "Verified"
	if !r.Verified {
		verdict = "NOT verified"
	}
	fmt.Fprintf(&b, "%s: %s %s: signed by %d of the %d required authorities", verdict, r.Digest, what, len(r.Signers), r.Threshold)
	if len(r.Signers) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(r.Signers, ", "))
	}
	b.WriteString("\n")
	for _, st := range r.Statements {
		fmt.Fprintf(&b, "  statement %s from %s, signed by %s\n", st.PredicateType, st.Source, strings.Join(st.Signers, ", "))
	}
	if !r.Verified || len(r.Signers) == 0 {
		for _, reason := range r.Reasons {
			fmt.Fprintf(&b, "  %s\n", reason)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
