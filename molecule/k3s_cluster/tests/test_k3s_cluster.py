"""State of a k3s server and two agents after converge (+ idempotence).

The process named k3s is the test double (tests/doubles/k3s/fake-k3s), which records what it
was given under /var/lib/rancher/k3s/test-double/ and runs the real control plane (jc-kube: kine,
kube-apiserver, controller manager, scheduler). With docker: true, the kube-node build mounted and
jc-runc as the node Docker's default runtime, every node (the server's too) runs a REAL kubelet
(jc-kube 1.30.14) through cri-dockerd on the node's Docker, with the CNI bridge on its podCIDR; no
cross-node pod network (no flannel). The Node objects and an Indexed Job are checked through the
real API with the kubeconfig the role fetched; the Job's logs through kubernetes.core.k8s_log.
"""

import base64
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
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
KUBELET_VERSION = "v1.30.14"  # jc-kube's kubelet: Kubernetes of the pinned k3s release
WORKLOAD = "edgeai-jc-test/k3s-cluster-workload:docker-load"  # docker-loaded on the agents (prepare.yml)
JOB = "indexed-on-agents"


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
    # Reported by the real kubelet itself (kwok is not playing it).
    assert item.status.node_info.kubelet_version == KUBELET_VERSION
    assert item.status.node_info.architecture == item.metadata.labels["kubernetes.io/arch"] == "amd64"
    # docker: true: the runtime is the node's Docker, through cri-dockerd.
    assert item.status.node_info.container_runtime_version.startswith("docker://")


@pytest.mark.parametrize("name, role", [(SERVER, "server")] + [(agent, "agent") for agent in sorted(AGENTS)])
def test_every_node_runs_a_real_kubelet_not_kwok(nodes, name, role):
    assert KWOK_ANNOTATION not in (nodes[name].metadata.annotations or {})
    host = node(name)
    record = read_json(host, DOUBLE + "/%s.json" % role)
    assert record["node_mode"] == "kubelet", record["node_mode_reason"]
    for component, exe in (("kubelet", "/opt/jc-kube/jc-kube"), ("cri-dockerd", "/opt/jc-kube-node/cri-dockerd")):
        assert host.file("/proc/%d/exe" % record["components"][component]).linked_to == exe
    # k3s's --docker socket; the kubelet's settings say so too.
    assert host.file("/run/k3s/cri-dockerd/cri-dockerd.sock").is_socket
    assert "--container-runtime-endpoint=unix:///run/k3s/cri-dockerd/cri-dockerd.sock" in record["node_side"]["kubelet"]
    # The CNI bridge's host-local range is the Node's own podCIDR.
    conflist = read_json(host, record["node_side"]["cni_conflist"])
    assert conflist["plugins"][0]["ipam"]["ranges"] == [[{"subnet": nodes[name].spec.pod_cidr}]]
    # The systemd STATUS line names what plays the node.
    assert "real kubelet" in host.check_output("systemctl show --property StatusText %s",
                                               "k3s" if role == "server" else "k3s-agent")


def test_pod_cidrs_come_from_the_inventorys_cluster_cidr(nodes):
    # kube-controller-manager --cluster-cidr=10.52.0.0/16 --allocate-node-cidrs, from config.yaml.
    cidrs = sorted(item.spec.pod_cidr for item in nodes.values())
    assert len(set(cidrs)) == 3 and all(cidr.startswith("10.52.") and cidr.endswith("/24") for cidr in cidrs)


def test_services_get_addresses_from_the_inventorys_service_cidr():
    # kube-apiserver --service-cluster-ip-range=10.53.0.0/16: the first address is the API's own.
    assert core_api().read_namespaced_service("kubernetes", "default").spec.cluster_ip == "10.53.0.1"


def test_the_server_runs_the_real_control_plane_on_kine_and_sqlite(server):
    record = read_json(server, DOUBLE + "/server.json")
    assert sorted(record["components"]) == ["cri-dockerd", "kine", "kube-apiserver", "kube-controller-manager",
                                            "kube-scheduler", "kubelet", "kwok"]
    for name, pid in record["components"].items():
        assert server.file("/proc/%d/exe" % pid).linked_to in (
            "/opt/jc-kube/jc-kube", "/opt/jc-kube/kwok", "/opt/jc-kube-node/cri-dockerd"), name
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


# ---- an Indexed Job on the real kubelets


def batch_api():
    from kubernetes import client, config
    return client.BatchV1Api(config.new_client_from_config(config_file=os.path.join(EPHEMERAL, "kube",
                                                                                    "jetson-cluster.yaml")))


@pytest.fixture(scope="module")
def finished_job():
    """completionMode Indexed, completions 2, parallelism 2, the docker-loaded image with
    imagePullPolicy: Never; no toleration, so the tainted server must not get a pod."""
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": JOB, "namespace": "default"},
           "spec": {"completionMode": "Indexed", "completions": 2, "parallelism": 2, "backoffLimit": 0,
                    "template": {"spec": {"restartPolicy": "Never", "containers": [{
                        "name": "work", "image": WORKLOAD, "imagePullPolicy": "Never",
                        "args": ['echo "index $JOB_COMPLETION_INDEX ran on $NODE_NAME"'],
                        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}]}}}}
    api = batch_api()
    api.create_namespaced_job("default", job)
    deadline = time.monotonic() + 240
    status = None
    while time.monotonic() < deadline:
        status = api.read_namespaced_job_status(JOB, "default").status
        if (status.succeeded or 0) == 2 or (status.failed or 0):
            break
        time.sleep(2)
    pods = core_api().list_namespaced_pod("default", label_selector="job-name=" + JOB).items
    return status, pods


def test_the_indexed_job_completes_one_pod_per_index_on_the_agents_only(finished_job):
    status, pods = finished_job
    assert (status.succeeded, status.failed) == (2, None), [(p.metadata.name, p.spec.node_name, p.status.phase,
                                                            p.status.container_statuses) for p in pods]
    placed = sorted((p.metadata.annotations["batch.kubernetes.io/job-completion-index"], p.spec.node_name)
                    for p in pods)
    assert [index for index, _ in placed] == ["0", "1"]
    assert {name for _, name in placed} <= set(AGENTS), placed  # never the tainted server
    for pod in pods:
        assert pod.status.phase == "Succeeded"
        # The docker-loaded image, found by the node's Docker with imagePullPolicy: Never.
        assert pod.status.container_statuses[0].image.endswith(WORKLOAD.split("/", 1)[1])
        assert pod.status.pod_ip.startswith(core_api().read_node(pod.spec.node_name).spec.pod_cidr.rsplit(".", 2)[0])


def test_the_job_logs_come_through_kubernetes_core_k8s_log(finished_job):
    # The roles' log path: kubernetes.core.k8s_log from the controller, API server -> kubelet :10250.
    _, pods = finished_job
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(
        os.environ.get("MOLECULE_PROJECT_DIRECTORY", "."), ".cache", "project-collections"),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    for pod in pods:
        index = pod.metadata.annotations["batch.kubernetes.io/job-completion-index"]
        result = subprocess.run(
            [os.path.join(bindir, "ansible"), "localhost", "-c", "local", "-m", "kubernetes.core.k8s_log", "-a",
             json.dumps({"kubeconfig": os.path.join(EPHEMERAL, "kube", "jetson-cluster.yaml"),
                         "namespace": "default", "name": pod.metadata.name})],
            capture_output=True, text=True, env=env, timeout=120, check=False)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        answer = json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
        assert answer["log"] == "index %s ran on %s\n" % (index, pod.spec.node_name)


def test_the_node_goes_not_ready_when_its_agent_stops_and_ready_again_on_start():
    # Last in this module: restarting the agent fetches a new kubelet certificate (nodes.json).
    name = "k3s-cluster-agent2"
    host = node(name)

    def ready():
        return is_ready(core_api().read_node(name))

    kubelet = read_json(host, DOUBLE + "/agent.json")["components"]["kubelet"]
    try:
        host.check_output("systemctl stop k3s-agent")
        assert not host.file("/proc/%d" % kubelet).exists  # the kubelet stopped with the agent
        deadline = time.monotonic() + 120  # the node lifecycle controller's grace period (40 s)
        while ready() and time.monotonic() < deadline:
            time.sleep(3)
        assert not ready()
    finally:
        host.check_output("systemctl start k3s-agent")  # Type=notify: returns when the Node is Ready
    assert ready()
    assert read_json(host, DOUBLE + "/agent.json")["node_mode"] == "kubelet"
