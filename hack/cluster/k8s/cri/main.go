// Command cri is the small CRI client of the local cluster (a stand-in for
// crictl, which Debian does not package): it lists the pod sandboxes of our
// containerd and tears them all down the way the kubelet would, so that the
// runtime releases their network namespaces, CNI leases and mounts.
//
//	cri --socket /run/outrider-cluster/containerd/containerd.sock ps
//	cri --socket /run/outrider-cluster/containerd/containerd.sock rm-all
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	socket := flag.String("socket", "/run/outrider-cluster/containerd/containerd.sock", "containerd CRI socket")
	timeout := flag.Duration("timeout", 2*time.Minute, "overall timeout")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: cri [--socket S] ps|rm-all")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *socket, flag.Arg(0)); err != nil {
		fmt.Fprintf(os.Stderr, "cri: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, socket, cmd string) error {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", socket, err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	resp, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("listing pod sandboxes: %w", err)
	}
	switch cmd {
	case "ps":
		for _, s := range resp.Items {
			fmt.Printf("%.13s  %-22s %s/%s\n", s.Id, s.State, s.Metadata.GetNamespace(), s.Metadata.GetName())
		}
		return nil
	case "rm-all":
		var failed int
		for _, s := range resp.Items {
			// StopPodSandbox stops the containers, runs CNI DEL and removes
			// the network namespace; RemovePodSandbox deletes what is left.
			if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.Id}); err != nil {
				fmt.Fprintf(os.Stderr, "stopping %s: %v\n", s.Id, err)
				failed++
				continue
			}
			if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.Id}); err != nil {
				fmt.Fprintf(os.Stderr, "removing %s: %v\n", s.Id, err)
				failed++
				continue
			}
			fmt.Printf("removed %s/%s\n", s.Metadata.GetNamespace(), s.Metadata.GetName())
		}
		if failed > 0 {
			return fmt.Errorf("%d sandbox(es) not removed", failed)
		}
		return nil
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
}
