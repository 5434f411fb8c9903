// Copyright: edgeai.jetson_cluster contributors
// Apache License 2.0 (see galaxy.yml)

//go:build !nokubelet

package main

import (
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

// The kubelet is the largest component; `-tags nokubelet` builds the control plane alone.
func init() {
	components["kubelet"] = kubelet.NewKubeletCommand
}
