package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/outrider-sec/outrider/internal/netns"
)

// runner runs the iptables commands in one network namespace.
type runner struct {
	ns *netns.NS // nil: the caller's own
}

func newRunner(path string) (*runner, error) {
	if path == "" {
		return &runner{}, nil
	}
	ns, err := netns.Open(path)
	if err != nil {
		return nil, err
	}
	return &runner{ns: ns}, nil
}

func (r *runner) close() {
	if r.ns != nil {
		r.ns.Close()
	}
}

// errNotFound reports a command that is not installed.
var errNotFound = errors.New("not installed")

// run runs name with args and stdin inside the namespace and returns its standard output.
// A command that exits non-zero returns an error holding its standard error.
//
// The command is started from a thread that is in the namespace, which it inherits.
func (r *runner) run(ctx context.Context, stdin, name string, args ...string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, errNotFound)
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := r.ns.Do(cmd.Run); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return "", fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return out.String(), nil
}
