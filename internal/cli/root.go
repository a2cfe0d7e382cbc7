package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/outrider-sec/outrider/internal/version"
)

// Streams are the standard streams a command reads and writes.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// ExitError carries the exit code a command ends with. Code 2 is a usage or input error.
type ExitError struct {
	Code int
	Err  error // nil when the command already said what went wrong
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageError marks an error in how the command was called (exit code 2).
func usageError(format string, args ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

// NewRoot builds the `outrider` command tree.
func NewRoot(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "outrider",
		Short: "Kubernetes workload protection from the CI pipeline to the running container",
		Long: `Outrider checks workloads end to end with one policy engine: in CI (outrider scan),
at admission (outrider controller), between workloads (the mesh) and on every node (the agent).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError("%v (see '%s --help')", err, c.CommandPath())
	})
	root.AddCommand(newScanCommand(s), newChecksCommand(s), newControllerCommand(s), newDrainCommand(s), newInstallCommand(s), newUninstallCommand(s), newImageCommand(s), newProxyCommand(s), newCaptureCommand(s), newMeshCommand(s), newIdentityCommand(s), newVersionCommand(s))
	return root
}

// Execute runs the command line and returns the process exit code.
func Execute(ctx context.Context, args []string, s Streams) int {
	root := NewRoot(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		if exit.Err != nil {
			fmt.Fprintf(s.Err, "outrider: %v\n", exit.Err)
		}
		return exit.Code
	}
	// Unknown commands and argument errors from cobra are usage errors too.
	fmt.Fprintf(s.Err, "outrider: %v\n", err)
	return 2
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

func newVersionCommand(s Streams) *cobra.Command {
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
