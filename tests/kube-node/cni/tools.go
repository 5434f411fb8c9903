// Copyright: edgeai.jetson_cluster contributors
// Apache License 2.0 (see galaxy.yml)

//go:build tools

// Package cni pins the CNI plugin commands tests/harness/kube-node-build.sh builds; the import
// keeps them (and their dependencies) in go.mod and go.sum.
package cni

import (
	_ "github.com/containernetworking/plugins/plugins/ipam/host-local"
	_ "github.com/containernetworking/plugins/plugins/main/bridge"
	_ "github.com/containernetworking/plugins/plugins/main/loopback"
	_ "github.com/containernetworking/plugins/plugins/meta/portmap"
)
