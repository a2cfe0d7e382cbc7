package proxycmd

import (
	"github.com/spf13/cobra"

	"github.com/outrider-sec/outrider/internal/cli/command"
)

// BinaryName is the sidecar's own binary (cmd/outrider-proxy), at /outrider-proxy in the image.
const BinaryName = "outrider-proxy"

// NewRoot builds the proxy command as the root of its own binary: `outrider-proxy [flags]`
// takes the flags of `outrider proxy` and does the same.
func NewRoot(s command.Streams) *cobra.Command {
	root := New(s)
	root.Use = BinaryName
	command.SetUp(root, s)
	return root
}
