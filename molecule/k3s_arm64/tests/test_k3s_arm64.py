"""A k3s server and agent installed online on arm64: the right binary, verified, configured,
running, and the agent joined the server."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "k3s_common"))
from k3s_testlib import (  # noqa: E402
    CONTROL_PLANE_TAINT, KUBECONFIG, api_nodes, digest, env_file, is_ready, node, read_json, read_yaml, release_sha256,
    taints)

VERSION = "v1.30.14+k3s1"
SERVER, AGENT = "k3s-arm64-server", "k3s-arm64-agent"
DOUBLE = "/var/lib/rancher/k3s/test-double"


@pytest.mark.parametrize("name", [SERVER, AGENT])
def test_host_is_arm64(name):
    assert node(name).system_info.arch == "aarch64"


@pytest.mark.parametrize("name", [SERVER, AGENT])
def test_binary_is_the_arm64_release_file(name):
    # Not k3s (amd64) nor k3s-armhf: the double would refuse to run on a foreign architecture.
    binary = node(name).file("/usr/local/bin/k3s")
    assert (binary.mode, binary.sha256sum) == (0o755, release_sha256(VERSION, "arm64", "k3s-arm64"))


@pytest.mark.parametrize("name", [SERVER, AGENT])
def test_binary_reports_the_pinned_version(name):
    assert node(name).check_output("/usr/local/bin/k3s --version").split()[2] == VERSION


def test_server_config_is_tainted_and_runs_on_containerd():
    config = read_yaml(node(SERVER), "/etc/rancher/k3s/config.yaml")
    assert (config["docker"], config["node-ip"], config["node-taint"]) == (
        False, "172.30.41.10", [CONTROL_PLANE_TAINT])


def test_agent_config_labels_a_worker():
    config = read_yaml(node(AGENT), "/etc/rancher/k3s/config.yaml")
    assert (config["docker"], config["node-ip"], config["node-label"]) == (
        False, "172.30.41.11", ["node-type=worker"])


def test_agent_environment_names_the_server_and_its_token():
    token = node(SERVER).file("/var/lib/rancher/k3s/server/node-token").content_string.strip()
    env = env_file(node(AGENT), "/etc/systemd/system/k3s-agent.service.env")
    assert (env["K3S_URL"], digest(env["K3S_TOKEN"])) == ("https://172.30.41.10:6443", digest(token))


def test_agent_registered_once_with_the_server():
    assert read_json(node(SERVER), DOUBLE + "/nodes.json")[AGENT]["registrations"] == 1


@pytest.mark.parametrize("name", [SERVER, AGENT])
def test_the_api_has_both_arm64_nodes_ready(name):
    # The static x86-64 jc-kube runs natively in the arm64 containers; the Nodes report the
    # double's architecture, as a Jetson's kubelet reports arm64.
    item = api_nodes()[name]
    assert is_ready(item)
    assert item.metadata.labels["kubernetes.io/arch"] == item.status.node_info.architecture == "arm64"
    assert item.status.node_info.kubelet_version == VERSION


def test_the_api_has_the_worker_labelled_and_the_master_tainted():
    nodes = api_nodes()
    assert nodes[AGENT].metadata.labels["node-type"] == "worker"
    assert taints(nodes[SERVER]) == [("node-role.kubernetes.io/control-plane", "true", "NoSchedule")]


@pytest.mark.parametrize("name, service, role", [(SERVER, "k3s", "server"), (AGENT, "k3s-agent", "agent")])
def test_service_runs_and_started_once(name, service, role):
    host = node(name)
    assert host.service(service).is_running and host.service(service).is_enabled
    assert read_json(host, DOUBLE + "/%s.json" % role)["starts"] == 1


@pytest.mark.parametrize("name", [SERVER, AGENT])
def test_no_air_gap_images_on_an_online_install(name):
    assert node(name).file("/var/lib/rancher/k3s/agent/images").listdir() == []


@pytest.mark.parametrize("name", [SERVER, AGENT])
def test_k3s_without_docker_has_containerd_for_ctr(name):
    # docker: false -> k3s runs its own containerd: `k3s ctr` reaches its socket, so the
    # workload image can be imported there (gpu_workloads_image_store follows: containerd).
    host = node(name)
    assert host.socket("unix:///run/k3s/containerd/containerd.sock").is_listening
    assert host.run("k3s ctr --namespace k8s.io images ls").rc == 0


def test_the_gpu_objects_were_applied_and_the_device_plugin_runs_only_on_the_worker():
    # k3s_server's gpu.yml (k3s_server_gpu_enabled) applied them through the API from the
    # controller: the RuntimeClass pods name, and the device plugin's DaemonSet, which the
    # scheduler places by its arm64 nodeSelector and its tolerations: on the agent, never on the
    # tainted server (its taint is not tolerated). kwok plays the pod: its image is not pulled here.
    from kubernetes import client, config
    api = config.new_client_from_config(config_file=KUBECONFIG)
    runtime_class = client.NodeV1Api(api).read_runtime_class("nvidia")
    assert runtime_class.handler == "nvidia"
    assert runtime_class.metadata.labels["app.kubernetes.io/managed-by"] == "edgeai.jetson_cluster"
    daemonset = client.AppsV1Api(api).read_namespaced_daemon_set("nvidia-device-plugin-daemonset", "kube-system")
    assert daemonset.spec.template.spec.node_selector == {"kubernetes.io/arch": "arm64"}
    assert daemonset.status.desired_number_scheduled == 1, daemonset.status
    pods = client.CoreV1Api(api).list_namespaced_pod(
        "kube-system", label_selector="app.kubernetes.io/name=nvidia-device-plugin").items
    assert [pod.spec.node_name for pod in pods] == [AGENT], [(p.metadata.name, p.spec.node_name) for p in pods]
