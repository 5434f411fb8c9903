"""The roles' Kubernetes objects meet a REAL control plane: kube-apiserver, kube-controller-manager
and kube-scheduler of the Kubernetes version the pinned k3s release runs, on kine + SQLite as in
k3s, all built from their upstream Go modules (tests/kube, jc-kube) and run on 127.0.0.1
(tests/helpers/kube_controlplane.py).

The nodes are registered the way k3s registers them, with the labels and taints the roles'
rendered k3s configs give them (node-label / node-taint); kwok (sigs.k8s.io/kwok) is the NODE
STAND-IN that keeps them Ready and plays their pods' lifecycle: no kubelet, no containers. What is
real: the API server's admission and validation of every manifest the roles render, applied
server-side; the PersistentVolume controller binding the dataset claim; the DaemonSet
controller's and the scheduler's placement against the taints and labels; the Job controller's
Indexed completions.
"""

import re
import time
from pathlib import Path

import pytest
import yaml
from k3s_render import render
from kube_controlplane import KWOK_ANNOTATION, ControlPlane
from kubernetes import client
from kubernetes.dynamic import DynamicClient

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.k3s_release import parse_version

pytestmark = pytest.mark.kube

MASTER, WORKERS = "jetson-master", ("jetson-worker1", "jetson-worker2")
FIELD_MANAGER = "edgeai-jetson-cluster"
GO_MOD = Path(__file__).resolve().parents[2] / "tests" / "kube" / "go.mod"
JOBS = len(WORKERS)


def parse_taint(text):
    """k3s node-taint syntax, key=value:Effect (or key:Effect), as a Node taint."""
    key_value, effect = text.rsplit(":", 1)
    key, _, value = key_value.partition("=")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def node_object(name, config, control_plane):
    """The Node k3s registers for a host with this rendered config.yaml (kubelet's own labels for a
    Jetson: arm64/linux/hostname; k3s's role labels on a server)."""
    labels = {"kubernetes.io/arch": "arm64", "kubernetes.io/os": "linux", "kubernetes.io/hostname": name}
    if control_plane:
        labels.update({"node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/master": "true"})
    labels.update(dict(item.split("=", 1) for item in config.get("node-label") or []))
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels, "annotations": {KWOK_ANNOTATION: "fake"}},
            "spec": {"taints": [parse_taint(item) for item in config.get("node-taint") or []]}}


def wait_for(what, predicate, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Everything the roles render for the reference topology, with their defaults."""
    base = tmp_path_factory.mktemp("render")
    # config.yaml is k3s_common's template (both k3s roles render it); the GPU objects are the server's.
    server, resolved = render(base / "server", "k3s_server", MASTER,
                              {"config.yaml": "k3s_common/templates/config.yaml.j2",
                               "gpu/runtimeclass.yaml": "k3s_server/templates/gpu/runtimeclass.yaml.j2",
                               "gpu/nvidia-device-plugin.yaml": "k3s_server/templates/gpu/nvidia-device-plugin.yaml.j2"},
                              resolve=["k3s_server_version"])
    configs = {MASTER: yaml.safe_load((server / "config.yaml").read_text())}
    for worker in WORKERS:
        out, _ = render(base / worker, "k3s_agent", worker, {"config.yaml": "k3s_common/templates/config.yaml.j2"})
        configs[worker] = yaml.safe_load((out / "config.yaml").read_text())
    nfs, _ = render(base / "nfs", "nfs_server", MASTER, ["k8s/persistentvolume.yml", "k8s/persistentvolumeclaim.yml"],
                    {"nfs_server_address": "192.168.10.1"})
    job, _ = render(base / "job", "gpu_workloads", MASTER, ["inference-job.yaml"],
                    {"gpu_workloads_run_workload": "files", "gpu_workloads_run_jobs": JOBS})
    manifests = [yaml.safe_load((server / "gpu" / name).read_text())
                 for name in ("runtimeclass.yaml", "nvidia-device-plugin.yaml")]
    manifests += [yaml.safe_load((nfs / "k8s" / name).read_text())
                  for name in ("persistentvolume.yml", "persistentvolumeclaim.yml")]
    manifests.append(yaml.safe_load((job / "inference-job.yaml").read_text()))
    return {"configs": configs, "manifests": manifests,
            "kubernetes": parse_version(resolved["k3s_server_version"])["kubernetes"]}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, rendered):
    server = rendered["configs"][MASTER]
    plane = ControlPlane(tmp_path_factory.mktemp("kube"), service_cidr=server["service-cidr"],
                         cluster_cidr=server["cluster-cidr"])
    try:
        plane.start()
        plane.start_kwok()
        api = plane.client()
        yield plane, api
    finally:
        plane.stop()


@pytest.fixture(scope="module")
def nodes(cluster, rendered):
    _, api = cluster
    core = client.CoreV1Api(api)
    for name, config in rendered["configs"].items():
        core.create_node(node_object(name, config, name == MASTER))

    def all_ready():
        items = core.list_node().items
        ready = [n for n in items if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]
        return items if len(ready) == len(rendered["configs"]) else None
    return {n.metadata.name: n for n in wait_for("the nodes to be Ready (kwok)", all_ready)}


@pytest.fixture(scope="module")
def applied(cluster, nodes, rendered):
    """Every rendered manifest, applied server-side twice; the replies of both rounds."""
    _, api = cluster
    dynamic = DynamicClient(api)

    def apply_all():
        replies = []
        for obj in rendered["manifests"]:
            resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
            replies.append(resource.server_side_apply(body=obj, field_manager=FIELD_MANAGER).to_dict())
        return replies
    return apply_all(), apply_all()


def test_the_api_server_is_the_pinned_kubernetes_version(cluster, rendered):
    plane, api = cluster
    assert plane.readyz().strip() == "ok"
    version = client.VersionApi(api).get_code().git_version.lstrip("v").split("+")[0]
    # The build pins k8s.io/kubernetes at the pinned k3s release's Kubernetes version (tests/kube/go.mod).
    pinned = re.search(r"^\s+k8s\.io/kubernetes v(\S+)$", GO_MOD.read_text(), re.M).group(1)
    assert version == pinned
    assert version == rendered["kubernetes"]


def test_nodes_carry_the_labels_and_taints_the_roles_configure(nodes):
    master = nodes[MASTER]
    assert [(t.key, t.value, t.effect) for t in master.spec.taints or [] if t.key.startswith("node-role")] == [
        ("node-role.kubernetes.io/control-plane", "true", "NoSchedule")]
    for worker in WORKERS:
        assert nodes[worker].metadata.labels["node-type"] == "worker"
        # node.kubernetes.io/* taints are the node lifecycle controller's (not-ready until kwok's
        # first heartbeat is seen); none comes from the roles' configuration.
        assert not [t for t in nodes[worker].spec.taints or [] if not t.key.startswith("node.kubernetes.io/")]
    assert "node-type" not in master.metadata.labels


def test_every_manifest_is_accepted_server_side_and_reapplying_changes_nothing(applied, rendered):
    first, second = applied
    assert [(o["kind"], o["metadata"]["name"]) for o in first] == [
        (m["kind"], m["metadata"]["name"]) for m in rendered["manifests"]]
    def applied_fields(reply):
        return [(e["operation"], e["time"], e["fieldsV1"]) for e in reply["metadata"]["managedFields"]
                if e["manager"] == FIELD_MANAGER]
    for reply in first:
        assert [operation for operation, _, _ in applied_fields(reply)] == ["Apply"]
    # Applying the same objects again changes nothing the roles own (controllers may have
    # written status in between): same applied fields, same timestamp, same generation.
    assert [applied_fields(o) for o in second] == [applied_fields(o) for o in first]
    assert [o["metadata"].get("generation") for o in second] == [o["metadata"].get("generation") for o in first]


def test_the_dataset_claim_binds_to_the_static_volume(cluster, applied, rendered):
    _, api = cluster
    claim = [m for m in rendered["manifests"] if m["kind"] == "PersistentVolumeClaim"][0]
    core = client.CoreV1Api(api)
    bound = wait_for("the claim to be Bound", lambda: (lambda c: c if c.status.phase == "Bound" else None)(
        core.read_namespaced_persistent_volume_claim(claim["metadata"]["name"], claim["metadata"]["namespace"])))
    assert bound.spec.volume_name == claim["spec"]["volumeName"]
    assert core.read_persistent_volume(bound.spec.volume_name).status.phase == "Bound"


def test_the_device_plugin_daemonset_runs_on_the_workers_not_the_tainted_master(cluster, applied, rendered):
    _, api = cluster
    daemonset = [m for m in rendered["manifests"] if m["kind"] == "DaemonSet"][0]
    namespace = daemonset["metadata"]["namespace"]
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)

    def scheduled():
        status = apps.read_namespaced_daemon_set(daemonset["metadata"]["name"], namespace).status
        return status if status.current_number_scheduled == len(WORKERS) else None
    status = wait_for("the DaemonSet's pods", scheduled)
    assert status.desired_number_scheduled == len(WORKERS)
    pods = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=nvidia-device-plugin").items
    assert sorted(p.spec.node_name for p in pods) == sorted(WORKERS)


def test_the_indexed_job_runs_one_pod_per_index_on_workers_only(cluster, applied, rendered):
    _, api = cluster
    job = [m for m in rendered["manifests"] if m["kind"] == "Job"][0]
    name, namespace = job["metadata"]["name"], job["metadata"]["namespace"]
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)

    def complete():
        status = batch.read_namespaced_job(name, namespace).status
        return status if (status.succeeded or 0) == JOBS else None
    status = wait_for("the Job to complete (kwok plays the pods)", complete)
    indexes = set()
    for part in status.completed_indexes.split(","):  # "0,1" or "0-2" (the API's compact form)
        first, _, last = part.partition("-")
        indexes.update(range(int(first), int(last or first) + 1))
    assert indexes == set(range(JOBS))
    pods = core.list_namespaced_pod(namespace, label_selector="job-name=%s" % name).items
    placement = sorted((p.metadata.annotations["batch.kubernetes.io/job-completion-index"], p.spec.node_name)
                       for p in pods)
    # One pod per index (backoffLimit 0: no retries), each on its own worker, none on the master.
    assert [index for index, _ in placement] == [str(i) for i in range(JOBS)]
    assert sorted(node for _, node in placement) == sorted(WORKERS)
