package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

type imageSignOptions struct {
	registryOptions
	key string
}

func newImageSignCommand(s command.Streams) *cobra.Command {
	o := &imageSignOptions{}
	cmd := &cobra.Command{
		Use:   "sign --key FILE IMAGE",
		Short: "Sign an image digest, as cosign sign does",
		Long: `Sign the image's digest with a private key and store the signature in the registry where
cosign stores it (the <repo>:sha256-<hex>.sig tag), so cosign verify and Outrider both accept it.
A tag is resolved to its digest first; the digest signed is printed.

The key is a PEM private key: PKCS#8, EC or PKCS#1, or a key made by 'cosign generate-key-pair'
or 'outrider image generate-key-pair'. Cosign's encrypted keys read their password from
COSIGN_PASSWORD. Registry credentials come from the Docker config (~/.docker/config.json).

Exit codes: 0 signed, 2 the command was called wrongly or the registry failed.`,
		Example: `  outrider image generate-key-pair
  outrider image sign --key outrider.key registry.example.com/shop/api:1.4.2
  COSIGN_PASSWORD=$PASS outrider image sign --key cosign.key registry.example.com/shop/api@sha256:…`,
		Args: cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error {
			if o.key == "" {
				return command.UsageError("--key is required")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
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
			if err := signature.Sign(ctx, d, sv, o.remoteOptions()...); err != nil {
				return &command.ExitError{Code: 2, Err: err}
			}
			_, err = fmt.Fprintf(s.Out, "Signed %s\n", d)
			return err
		},
	}
	cmd.Flags().StringVar(&o.key, "key", "", "private key file (PEM)")
	o.addFlags(cmd.Flags())
	return cmd
}
