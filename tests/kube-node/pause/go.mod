module edgeai.jetson_cluster/tests/kube-node/pause

go 1.21
