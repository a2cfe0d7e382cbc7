package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

type imageAttestOptions struct {
	registryOptions
	key, predicateType, predicate string
}

func newImageAttestCommand(s command.Streams) *cobra.Command {
	o := &imageAttestOptions{}
	cmd := &cobra.Command{
		Use:   "attest --key FILE --type TYPE --predicate FILE IMAGE",
		Short: "Attach a signed in-toto attestation to an image, as cosign attest does",
		Long: `Sign an in-toto statement about the image's digest, with the predicate read from a JSON file
(- for standard input), and store it where cosign stores attestations (the
<repo>:sha256-<hex>.att tag, a DSSE envelope). cosign verify-attestation and Outrider's
attestation rules both accept it.

--type is a predicate type URI or one of cosign's short names: slsaprovenance
(https://slsa.dev/provenance/v0.2), slsaprovenance1 (https://slsa.dev/provenance/v1), vuln
(https://cosign.sigstore.dev/attestation/vuln/v1), spdxjson, cyclonedx, openvex, link, custom.
The predicate is written as given (cosign's 'custom' type wraps it; this command does not).

Exit codes: 0 attested, 2 the command was called wrongly or the registry failed.`,
		Example: `  outrider image attest --key outrider.key --type slsaprovenance --predicate provenance.json registry.example.com/shop/api:1.4.2
  trivy image -f cosign-vuln registry.example.com/shop/api:1.4.2 | \
    outrider image attest --key outrider.key --type vuln --predicate - registry.example.com/shop/api:1.4.2`,
		Args: cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error {
			switch {
			case o.key == "":
				return command.UsageError("--key is required")
			case o.predicateType == "":
				return command.UsageError("--type is required (slsaprovenance, slsaprovenance1, vuln or a URI)")
			case o.predicate == "":
				return command.UsageError("--predicate is required (a JSON file, or - for standard input)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			predicate, err := readPredicate(s, o.predicate)
			if err != nil {
				return err
			}
			sv, err := loadSigningKey(o.key)
			if err != nil {
				return err
			}
			ctx, cancel := o.context(cmd.Context())
			defer cancel()
			d, err := o.resolve(ctx, args[0])
			if err != nil {
				return err
			}
			pt := signature.PredicateTypeURI(o.predicateType)
			if err := signature.Attest(ctx, d, sv, pt, predicate, o.remoteOptions()...); err != nil {
				return &command.ExitError{Code: 2, Err: err}
			}
			_, err = fmt.Fprintf(s.Out, "Attested %s (%s)\n", d, pt)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.key, "key", "", "private key file (PEM)")
	f.StringVar(&o.predicateType, "type", "", "predicate type: slsaprovenance, slsaprovenance1, vuln, … or a URI")
	f.StringVar(&o.predicate, "predicate", "", "predicate JSON file, or - for standard input")
	o.addFlags(f)
	return cmd
}

// readPredicate reads the predicate file (bounded, as the verifier bounds blobs) and checks it is JSON.
func readPredicate(s command.Streams, path string) ([]byte, error) {
	var r io.Reader = s.In
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, command.UsageError("reading predicate: %v", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, signature.MaxBlobBytes/2+1))
	switch {
	case err != nil:
		return nil, command.UsageError("reading predicate: %v", err)
	case len(data) > signature.MaxBlobBytes/2:
		return nil, command.UsageError("predicate %s is larger than %d bytes", path, signature.MaxBlobBytes/2)
	case !json.Valid(data):
		return nil, command.UsageError("predicate %s is not JSON", path)
	}
	return data, nil
}
