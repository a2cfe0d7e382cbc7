// Command outrider-proxy is the mesh sidecar alone: `outrider-proxy [flags]` is `outrider proxy
// [flags]`, in a binary that links the data plane and nothing of the control plane, so each
// meshed pod's proxy stays small in memory (docs/mesh.md, "The sidecar binary").
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/outrider-sec/outrider/internal/cli/command"
	"github.com/outrider-sec/outrider/internal/cli/proxycmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	s := command.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	code := command.Execute(ctx, proxycmd.NewRoot(s), os.Args[1:], s)
	stop()
	os.Exit(code)
}
