package command

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestExecuteExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		runErr  error
		code    int
		printed string
	}{
		{name: "success", code: 0},
		{name: "exit error", runErr: &ExitError{Code: 1, Err: errors.New("boom")}, code: 1, printed: "tool: boom\n"},
		{name: "silent exit error", runErr: &ExitError{Code: 1}, code: 1},
		{name: "usage error", runErr: UsageError("--x %d", 3), code: 2, printed: "tool: --x 3\n"},
		{name: "bad flag", args: []string{"--nope"}, code: 2, printed: "tool: unknown flag: --nope (see 'tool --help')\n"},
		{name: "other error", runErr: errors.New("plain"), code: 2, printed: "tool: plain\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			s := Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}
			root := &cobra.Command{Use: "tool", RunE: func(*cobra.Command, []string) error { return tc.runErr }}
			SetUp(root, s)
			if code := Execute(context.Background(), root, tc.args, s); code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if errOut.String() != tc.printed {
				t.Errorf("printed %q, want %q", errOut.String(), tc.printed)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %q to the output (no usage on errors)", out.String())
			}
		})
	}
}

func TestNewLogger(t *testing.T) {
	var errOut bytes.Buffer
	log, err := NewLogger(Streams{Err: &errOut}, "json", "warn")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	if got := errOut.String(); strings.Contains(got, "hidden") || !strings.Contains(got, `"msg":"shown","k":1`) {
		t.Errorf("logged %q", got)
	}
	for _, tc := range [][2]string{{"xml", "info"}, {"json", "loud"}} {
		var exit *ExitError
		if _, err := NewLogger(Streams{Err: &errOut}, tc[0], tc[1]); !errors.As(err, &exit) || exit.Code != 2 {
			t.Errorf("--log-format %s --log-level %s: %v, want a usage error", tc[0], tc[1], err)
		}
	}
}
