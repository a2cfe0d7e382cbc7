// Command ocitool is the image tooling of the local cluster: a small OCI
// registry and an image builder, both on go-containerregistry, so that the
// cluster needs neither Docker nor any registry off this machine.
//
//	ocitool registry --addr 127.0.0.1:5000 --read-only-addr 10.88.0.1:5000 \
//	    --dir /var/lib/outrider-cluster/registry
//	ocitool build --base-empty --file bin/outrider:/outrider:0755 \
//	    --entrypoint /outrider --user 65532 --push 127.0.0.1:5000/outrider:dev
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: ocitool <command> [flags]

commands:
  registry   serve an OCI registry (blobs and manifests kept on disk)
  build      build an image from local files and push it
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var err error
	switch os.Args[1] {
	case "registry":
		err = runRegistry(ctx, os.Args[2:])
	case "build":
		err = runBuild(ctx, os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "ocitool: unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ocitool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
