"""State of a k3s server and two agents after converge (+ idempotence).

The process named k3s is the test double (tests/doubles/k3s/fake-k3s), which records what it
was given under /var/lib/rancher/k3s/test-double/ and runs the real control plane (jc-kube: kine,
kube-apiserver, controller manager, scheduler); kwok, on the server, is the stand-in for the nodes'
kubelets (it keeps the registered Nodes Ready). The Node objects are checked through the real API
with the kubeconfig the role fetched. Everything else is the real system state.
"""

import base64
import os
import ssl
import sys
import tempfile
import urllib.request

import pytest
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "k3s_common"))
from k3s_testlib import (  # noqa: E402
    CONTROL_PLANE_TAINT, EPHEMERAL, KWOK_ANNOTATION, addresses, api_nodes, core_api, digest, env_file, is_ready,
    node, read_json, read_yaml, release_sha256, taints)

VERSION = "v1.30.14+k3s1"
SERVER = "k3s-cluster-server"
AGENTS = {"k3s-cluster-agent1": "172.30.40.11", "k3s-cluster-agent2": "172.30.40.12"}
SERVER_URL = "https://172.30.40.10:6443"
DOUBLE = "/var/lib/rancher/k3s/test-double"


@pytest.fixture(scope="module")
def server():
    return node(SERVER)


@pytest.fixture(scope="module")
def server_token(server):
    return server.file("/var/lib/rancher/k3s/server/node-token").content_string.strip()


@pytest.fixture(scope="module")
def registered(server):
    return read_json(server, DOUBLE + "/nodes.json")


@pytest.mark.parametrize("name", [SERVER] + sorted(AGENTS))
def test_binary_is_the_verified_amd64_release_file(name):
    binary = node(name).file("/usr/local/bin/k3s")
    assert (binary.mode, binary.sha256sum) == (0o755, release_sha256(VERSION, "amd64", "k3s"))


@pytest.mark.parametrize("name", [SERVER] + sorted(AGENTS))
def test_installed_version_is_the_pinned_one(name):
    assert node(name).check_output("/usr/local/bin/k3s --version").split()[2] == VERSION


@pytest.mark.parametrize("name", [SERVER] + sorted(AGENTS))
def test_air_gap_images_are_loaded_into_docker(name):
    assert node(name).run("docker image inspect docker.io/k3s-test-double/pause:v1.30.14-k3s1").rc == 0


def test_server_config_carries_runtime_network_and_taint(server):
    config = read_yaml(server, "/etc/rancher/k3s/config.yaml")
    assert config == {
        "docker": True,
        "node-ip": "172.30.40.10",
        "https-listen-port": 6443,
        "cluster-cidr": "10.52.0.0/16",
        "service-cidr": "10.53.0.0/16",
        "node-taint": [CONTROL_PLANE_TAINT],
        "node-label": [],
        "tls-san": [SERVER],
        "write-kubeconfig-mode": "0600",
    }


def test_server_files_are_private(server):
    modes = {path: server.file(path).mode for path in (
        "/etc/rancher/k3s/config.yaml", "/etc/systemd/system/k3s.service.env",
        "/var/lib/rancher/k3s/server/node-token", "/etc/rancher/k3s/k3s.yaml")}
    assert modes == dict.fromkeys(modes, 0o600)


def test_k3s_read_the_config_the_role_wrote(server):
    record = read_json(server, DOUBLE + "/server.json")
    assert record["config_text"] == server.file("/etc/rancher/k3s/config.yaml").content_string
    assert record["argv"][1:] == ["server"]


def test_k3s_server_found_docker_running(server):
    assert read_json(server, DOUBLE + "/server.json")["docker"]["reachable"] is True


def test_server_runs_as_an_enabled_service(server):
    service = server.service("k3s")
    assert service.is_running and service.is_enabled


def test_server_started_once_across_converge_and_idempotence(server):
    assert read_json(server, DOUBLE + "/server.json")["starts"] == 1


@pytest.fixture(scope="module")
def nodes():
    return api_nodes()


def test_every_node_is_registered_and_ready(nodes):
    assert sorted(nodes) == sorted([SERVER] + list(AGENTS))
    assert [name for name, item in sorted(nodes.items()) if not is_ready(item)] == []


def test_the_master_carries_the_control_plane_taint_and_role_labels(nodes):
    master = nodes[SERVER]
    assert taints(master) == [("node-role.kubernetes.io/control-plane", "true", "NoSchedule")]
    assert CONTROL_PLANE_TAINT == "node-role.kubernetes.io/control-plane=true:NoSchedule"
    assert (master.metadata.labels["node-role.kubernetes.io/control-plane"],
            master.metadata.labels["node-role.kubernetes.io/master"]) == ("true", "true")
    assert "node-type" not in master.metadata.labels


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_workers_carry_the_worker_label_and_no_taint(nodes, name):
    assert nodes[name].metadata.labels["node-type"] == "worker"
    assert taints(nodes[name]) == []
    assert "node-role.kubernetes.io/control-plane" not in nodes[name].metadata.labels


@pytest.mark.parametrize("name, address", [(SERVER, "172.30.40.10")] + sorted(AGENTS.items()))
def test_nodes_report_their_node_ip_and_the_k3s_version(nodes, name, address):
    item = nodes[name]
    assert addresses(item) == [address]
    assert item.status.node_info.kubelet_version == VERSION
    assert item.status.node_info.architecture == item.metadata.labels["kubernetes.io/arch"] == "amd64"
    # docker: true: the runtime the node reports is the node's Docker (no pod runs through it: kwok).
    assert item.status.node_info.container_runtime_version.startswith("docker://")


@pytest.mark.parametrize("name", [SERVER] + sorted(AGENTS))
def test_nodes_are_played_by_kwok_the_node_stand_in(nodes, name):
    assert nodes[name].metadata.annotations[KWOK_ANNOTATION] == "fake"


def test_pod_cidrs_come_from_the_inventorys_cluster_cidr(nodes):
    # kube-controller-manager --cluster-cidr=10.52.0.0/16 --allocate-node-cidrs, from config.yaml.
    cidrs = sorted(item.spec.pod_cidr for item in nodes.values())
    assert len(set(cidrs)) == 3 and all(cidr.startswith("10.52.") and cidr.endswith("/24") for cidr in cidrs)


def test_services_get_addresses_from_the_inventorys_service_cidr():
    # kube-apiserver --service-cluster-ip-range=10.53.0.0/16: the first address is the API's own.
    assert core_api().read_namespaced_service("kubernetes", "default").spec.cluster_ip == "10.53.0.1"


def test_the_server_runs_the_real_control_plane_on_kine_and_sqlite(server):
    record = read_json(server, DOUBLE + "/server.json")
    assert sorted(record["components"]) == ["kine", "kube-apiserver", "kube-controller-manager",
                                            "kube-scheduler", "kwok"]
    for name, pid in record["components"].items():
        assert server.file("/proc/%d/exe" % pid).linked_to in ("/opt/jc-kube/jc-kube", "/opt/jc-kube/kwok"), name
    assert server.file("/var/lib/rancher/k3s/server/db/state.db").is_file
    # The API server listens on 127.0.0.1:6444 only; 6443 is k3s's supervisor in front of it.
    assert server.socket("tcp://127.0.0.1:6444").is_listening
    assert not server.socket("tcp://0.0.0.0:6444").is_listening


def test_kubectl_is_a_link_to_k3s(server):
    kubectl = server.file("/usr/local/bin/kubectl")
    assert kubectl.is_symlink and kubectl.linked_to == "/usr/local/bin/k3s"


@pytest.mark.parametrize("name, address", sorted(AGENTS.items()))
def test_agent_config_has_worker_label_and_no_secrets(name, address):
    config = read_yaml(node(name), "/etc/rancher/k3s/config.yaml")
    assert config == {"docker": True, "node-ip": address, "node-label": ["node-type=worker"],
                      "node-taint": []}


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_agent_environment_holds_server_url_and_token(name, server_token):
    host = node(name)
    env = env_file(host, "/etc/systemd/system/k3s-agent.service.env")
    assert host.file("/etc/systemd/system/k3s-agent.service.env").mode == 0o600
    assert (env["K3S_URL"], digest(env["K3S_TOKEN"])) == (SERVER_URL, digest(server_token))


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_agent_process_got_url_and_token(name, server_token):
    record = read_json(node(name), DOUBLE + "/agent.json")
    assert (record["env"]["K3S_URL"], record["env"]["K3S_TOKEN"]) == (SERVER_URL, digest(server_token))


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_agent_joined_once_with_the_token(name, registered):
    # The supervisor's record of kubelet certificates it handed out for the token (nodes.json):
    # once per agent across converge, idempotence and agent1's second run.
    assert (registered[name]["registrations"], registered[name]["address"]) == (1, AGENTS[name])


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_agent_runs_as_an_enabled_service(name):
    service = node(name).service("k3s-agent")
    assert service.is_running and service.is_enabled


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_agent_is_not_a_server(name):
    host = node(name)
    assert not host.file("/etc/systemd/system/k3s.service").exists
    assert not host.file("/var/lib/rancher/k3s/server").exists


@pytest.fixture(scope="module")
def kubeconfig_path():
    return os.path.join(EPHEMERAL, "kube", "jetson-cluster.yaml")


def test_controller_kubeconfig_is_private(kubeconfig_path):
    assert os.stat(kubeconfig_path).st_mode & 0o777 == 0o600


def test_controller_kubeconfig_points_at_the_master(kubeconfig_path):
    with open(kubeconfig_path) as handle:
        config = yaml.safe_load(handle)
    assert [cluster["cluster"]["server"] for cluster in config["clusters"]] == [SERVER_URL]


def test_controller_kubeconfig_authenticates_to_the_api(kubeconfig_path):
    # From the controller, over the node network, with the kubeconfig's CA and admin certificate.
    with open(kubeconfig_path) as handle:
        config = yaml.safe_load(handle)
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    with tempfile.TemporaryDirectory() as directory:
        cert, key = os.path.join(directory, "cert"), os.path.join(directory, "key")
        for path, field in ((cert, "client-certificate-data"), (key, "client-key-data")):
            with open(path, "wb") as handle:
                handle.write(base64.b64decode(user[field]))
        context.load_cert_chain(cert, key)
        with urllib.request.urlopen(cluster["server"] + "/readyz", context=context, timeout=10) as answer:
            assert answer.read() == b"ok"


@pytest.mark.parametrize("name, unit", [("k3s-cluster-server", "k3s"), ("k3s-cluster-agent1", "k3s-agent"),
                                        ("k3s-cluster-agent2", "k3s-agent")])
def test_k3s_starts_after_time_sync(name, unit):
    # Certificates issued or checked with a clock that is later corrected are "not yet valid".
    host = node(name)
    for prop in ("After", "Wants"):
        value = host.check_output("systemctl show --property %s %s.service", prop, unit)
        assert "time-sync.target" in value.split("=", 1)[1].split(), value


@pytest.mark.parametrize("name", ["k3s-cluster-server", "k3s-cluster-agent1"])
def test_k3s_with_docker_has_no_containerd_for_ctr(name):
    # k3s started with docker: true runs no containerd: importing an image with `k3s ctr` fails
    # (the old gpu_workloads default), so the image must go to Docker.
    result = node(name).run("k3s ctr --namespace k8s.io images ls")
    assert result.rc == 1
    assert 'failed to dial "/run/k3s/containerd/containerd.sock"' in result.stderr
