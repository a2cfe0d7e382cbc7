// Command pause is the pod sandbox ("infra") container of the local cluster:
// it holds the pod's namespaces open and does nothing until it is asked to
// stop. It replaces registry.k8s.io/pause, which this machine cannot pull.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
}
