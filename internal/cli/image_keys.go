package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

func newImageKeyPairCommand(s command.Streams) *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "generate-key-pair",
		Short: "Make an ECDSA P-256 signing key pair",
		Long: `Write a new ECDSA P-256 key pair: PREFIX.key, the private key (unencrypted PKCS#8 PEM, mode
0600: keep it in your CI's secret store), and PREFIX.pub, the public key to give 'outrider
image verify --key' or a policy's key authority. cosign accepts both (import the private key
with 'cosign import-key-pair' if cosign itself should sign with it). Existing files are never
overwritten.

Exit codes: 0 written, 2 a file exists or could not be written.`,
		Example: `  outrider image generate-key-pair
  outrider image generate-key-pair --output-key-prefix ci`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			priv, pub, err := signature.GenerateKeyPair()
			if err != nil {
				return &command.ExitError{Code: 2, Err: err}
			}
			keyFile, pubFile := prefix+".key", prefix+".pub"
			for _, f := range []string{keyFile, pubFile} {
				if _, err := os.Lstat(f); err == nil {
					return command.UsageError("%s exists; not overwriting it", f)
				}
			}
			if err := writeNew(keyFile, priv, 0o600); err != nil {
				return err
			}
			if err := writeNew(pubFile, pub, 0o644); err != nil {
				return err
			}
			_, err = fmt.Fprintf(s.Out, "Private key written to %s\nPublic key written to %s\n", keyFile, pubFile)
			return err
		},
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "outrider", "write PREFIX.key and PREFIX.pub")
	return cmd
}

// writeNew creates path with data, failing if it exists.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return command.UsageError("%s exists; not overwriting it", path)
	}
	if err != nil {
		return &command.ExitError{Code: 2, Err: err}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return &command.ExitError{Code: 2, Err: fmt.Errorf("writing %s: %w", path, err)}
	}
	if err := f.Close(); err != nil {
		return &command.ExitError{Code: 2, Err: fmt.Errorf("writing %s: %w", path, err)}
	}
	return nil
}
