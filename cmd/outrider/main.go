// Command outrider is Outrider's single binary: the CI scanner and every in-cluster role. The
// mesh sidecar also ships alone, as cmd/outrider-proxy.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/outrider-sec/outrider/internal/cli"
	"github.com/outrider-sec/outrider/internal/cli/command"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], command.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
