package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/cli/proxycmd"
	"github.com/outrider-sec/outrider/internal/version"
)

// NewRoot builds the `outrider` command tree.
func NewRoot(s command.Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "outrider",
		Short: "Kubernetes workload protection from the CI pipeline to the running container",
		Long: `Outrider checks workloads end to end with one policy engine: in CI (outrider scan),
at admission (outrider controller), between workloads (the mesh) and on every node (the agent).`,
		Version: version.String(),
	}
	command.SetUp(root, s)
	root.AddCommand(newScanCommand(s), newChecksCommand(s), newControllerCommand(s), newDrainCommand(s), newInstallCommand(s), newUninstallCommand(s), newImageCommand(s), proxycmd.New(s), newCaptureCommand(s), newMeshCommand(s), newIdentityCommand(s), newVersionCommand(s))
	return root
}

// Execute runs the command line and returns the process exit code.
func Execute(ctx context.Context, args []string, s command.Streams) int {
	return command.Execute(ctx, NewRoot(s), args, s)
}

// colorFor decides whether to colour output written to w: mode "always", "never", or "auto"
// (a terminal, and NO_COLOR unset).
func colorFor(w io.Writer, mode string) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newVersionCommand(s command.Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(s.Out, version.String())
			return err
		},
	}
}
