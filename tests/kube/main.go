// Copyright: edgeai.jetson_cluster contributors
// Apache License 2.0 (see galaxy.yml)

// jc-kube is ONE multi-call binary (like k3s) of upstream Kubernetes components, built from the
// k8s.io/kubernetes Go module at the Kubernetes version of the pinned k3s_version, plus kine
// (github.com/k3s-io/kine, the etcd shim k3s itself uses) on SQLite as the API server's datastore.
// kwok, the node stand-in, is built beside it from its own module (kwok/): its dependencies are
// newer than Kubernetes 1.30's and would rebuild most of the components.
// It is test tooling for the lab: nothing of it is shipped by the collection.
//
//	jc-kube kine --listen-address unix:///run/kine.sock --endpoint sqlite:///var/lib/kine/state.db
//	jc-kube kube-apiserver ...           (upstream flags, unchanged)
//	jc-kube kube-controller-manager ...
//	jc-kube kube-scheduler ...
//	jc-kube kubelet ...
//	jc-kube version
//
// The component is picked from the first argument, or from the program name when the binary is
// called through a link of that name (as k3s does with kubectl, crictl, ctr).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

var components = map[string]func() *cobra.Command{
	"kine":                    newKineCommand,
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
}

func usage() {
	names := make([]string, 0, len(components))
	for n := range components {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: jc-kube COMPONENT [FLAGS]\ncomponents: %v, version\n", names)
}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if _, ok := components[name]; !ok {
		if len(args) == 0 {
			usage()
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	if name == "version" {
		fmt.Printf("jc-kube kubernetes %s\n", version.Get().GitVersion)
		return
	}
	newCommand, ok := components[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "jc-kube: unknown component %q\n", name)
		usage()
		os.Exit(2)
	}
	cmd := newCommand()
	cmd.SetArgs(args)
	os.Exit(cli.Run(cmd))
}
