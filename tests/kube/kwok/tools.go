// Copyright: edgeai.jetson_cluster contributors
// Apache License 2.0 (see galaxy.yml)

//go:build tools

// Package kwok pins kwok (sigs.k8s.io/kwok), the NODE STAND-IN of the lab's control plane tests: it
// keeps the nodes it manages Ready through the API and plays their pods' lifecycle, with no
// kubelet and no containers. tests/harness/kube-build.sh builds upstream's own command from it:
// go build sigs.k8s.io/kwok/cmd/kwok. A module of its own: kwok's dependencies are newer than
// Kubernetes 1.30's, and in jc-kube's module they would rebuild most of the components.
package kwok

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
