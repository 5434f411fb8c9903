// Copyright: edgeai.jetson_cluster contributors
// Apache License 2.0 (see galaxy.yml)

// cri-dockerd for the lab's real kubelet: the command of github.com/Mirantis/cri-dockerd, as its
// own main.go starts it (that main package cannot be built from outside its module because its
// replace directives apply only there; go.mod repeats them).
package main

import (
	"fmt"
	"os"

	"github.com/Mirantis/cri-dockerd/cmd"
	"k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/logs"
)

func main() {
	command := cmd.NewDockerCRICommand(server.SetupSignalHandler())
	logs.InitLogs()
	defer logs.FlushLogs()
	if err := command.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		os.Exit(1)
	}
}
