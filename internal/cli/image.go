package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	sigsig "github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/imagetrust/signature"
)

// newImageCommand is `outrider image`: sign, attest and verify images in cosign's formats.
func newImageCommand(s command.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Sign, attest and verify container images (cosign-compatible)",
		Long: `Sign and attest images, and verify their signatures and attestations, in the formats cosign
stores in the registry beside the image. A pipeline that signs with cosign works unchanged with
Outrider's admission controller, and one without cosign can sign with these commands instead.

Signatures are over the image digest: a tag is resolved to its digest first, and a tag that
later moves to another image does not carry the signature along. See docs/image-signing.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newImageSignCommand(s), newImageAttestCommand(s), newImageVerifyCommand(s), newImageKeyPairCommand(s))
	return cmd
}

// registryOptions are the flags every image command that talks to a registry has.
type registryOptions struct {
	insecure bool
	timeout  time.Duration
}

func (o *registryOptions) addFlags(f *pflag.FlagSet) {
	f.BoolVar(&o.insecure, "allow-insecure-registry", false, "allow plain http and unverified TLS to the registry (http is always allowed for localhost and 127.0.0.1)")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up on the registry after this long")
}

// context bounds the command's registry calls by --timeout.
func (o *registryOptions) context(ctx context.Context) (context.Context, context.CancelFunc) {
	if o.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, o.timeout)
}

// remoteOptions authenticate with the docker config's credentials, as cosign does.
func (o *registryOptions) remoteOptions() []remote.Option {
	opts := []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	if o.insecure {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it with --allow-insecure-registry
		opts = append(opts, remote.WithTransport(t))
	}
	return opts
}

// resolve parses image and returns the digest it names now: a digest reference as is, a tag
// by asking the registry.
func (o *registryOptions) resolve(ctx context.Context, image string) (name.Digest, error) {
	var nameOpts []name.Option
	if o.insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	ref, err := name.ParseReference(image, nameOpts...)
	if err != nil {
		return name.Digest{}, command.UsageError("image %q: %v", image, err)
	}
	if d, ok := ref.(name.Digest); ok {
		return d, nil
	}
	desc, err := remote.Head(ref, append(o.remoteOptions(), remote.WithContext(ctx))...)
	if err != nil {
		return name.Digest{}, &command.ExitError{Code: 2, Err: fmt.Errorf("resolving %s to a digest: %w", ref, err)}
	}
	return ref.Context().Digest(desc.Digest.String()), nil
}

// loadSigningKey reads a private key file; cosign's encrypted keys take COSIGN_PASSWORD.
func loadSigningKey(path string) (sigsig.SignerVerifier, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, command.UsageError("reading key: %v", err)
	}
	sv, err := signature.LoadPrivateKey(data, []byte(os.Getenv("COSIGN_PASSWORD")))
	if err != nil {
		return nil, command.UsageError("%s: %v", path, err)
	}
	return sv, nil
}
