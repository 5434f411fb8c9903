// Copyright: edgeai.jetson_cluster contributors
// Apache License 2.0 (see galaxy.yml)

// pause: the pod sandbox ("infra") container's process for the lab's real kubelet, which cannot
// pull registry.k8s.io/pause (no registry is reachable). Like Kubernetes' own pause, it sleeps
// until SIGINT/SIGTERM and exits 0. With arguments it prints them on one line first, so the same
// static binary makes the small test images the lab's pods run.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Println(strings.Join(os.Args[1:], " "))
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
}
