// Package command holds what Outrider's commands share with the binaries that run them: the
// streams a command reads and writes, the exit code it ends with, its logger, and how a binary
// runs its root command. It imports nothing heavy, so a binary that links one small command
// (cmd/outrider-proxy) stays small.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
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

// UsageError marks an error in how the command was called (exit code 2).
func UsageError(format string, args ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

// NewLogger builds the logger of a long-running command from its --log-format (json or text)
// and --log-level flags; it writes to the standard error stream. It is passed down, never global.
func NewLogger(s Streams, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, UsageError("--log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(s.Err, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(s.Err, opts)), nil
	}
	return nil, UsageError("--log-format must be json or text, not %q", format)
}

// SetUp makes root the root of a binary: it reads and writes s, prints neither usage nor errors
// itself (Execute does), and turns bad flags into usage errors.
func SetUp(root *cobra.Command, s Streams) {
	root.SilenceUsage, root.SilenceErrors = true, true
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return UsageError("%v (see '%s --help')", err, c.CommandPath())
	})
}

// Execute runs root (set up with SetUp) with args and returns the process exit code. An error
// is printed to s.Err after the root's name.
func Execute(ctx context.Context, root *cobra.Command, args []string, s Streams) int {
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		if exit.Err != nil {
			fmt.Fprintf(s.Err, "%s: %v\n", root.Name(), exit.Err)
		}
		return exit.Code
	}
	// Unknown commands and argument errors from cobra are usage errors too.
	fmt.Fprintf(s.Err, "%s: %v\n", root.Name(), err)
	return 2
}
