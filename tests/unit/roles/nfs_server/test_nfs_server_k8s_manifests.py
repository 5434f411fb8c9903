"""The dataset's PersistentVolume, claim and check Job, rendered by Ansible from the role's
templates and validated (strict) against the Kubernetes version the k3s roles pin."""

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
MANIFESTS = ["k8s_persistentvolume.yml", "k8s_persistentvolumeclaim.yml", "k8s_check-job.yml"]
CASES = ["default", "custom_k8s", "local_pv"]


def pinned_kubernetes_version():
    """Major.minor of k3s_version in roles/k3s_server/defaults/main.yml; 1.30 until it exists."""
    defaults = ROOT / "roles" / "k3s_server" / "defaults" / "main.yml"
    if defaults.exists():
        version = (yaml.safe_load(defaults.read_text()) or {}).get("k3s_version")
        match = re.match(r"v?(\d+\.\d+)", str(version or ""))
        if match:
            return match.group(1)
    return "1.30"


def objects(rendered, case):
    return {name: yaml.safe_load(rendered[case][name]) for name in MANIFESTS}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_validates_strictly(rendered, case, name):
    obj = yaml.safe_load(rendered[case][name])
    kubernetes_validate.validate(obj, pinned_kubernetes_version(), strict=True)


def test_strict_validation_rejects_an_unknown_field(rendered):
    obj = yaml.safe_load(rendered["default"]["k8s_persistentvolume.yml"])
    obj["spec"]["nfs"]["nfsvers"] = "4.1"  # a common mistake: the version belongs in mountOptions
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, pinned_kubernetes_version(), strict=True)


def test_volume_points_at_the_nfs_servers_node_ip_and_dataset_path(rendered):
    nfs = objects(rendered, "default")["k8s_persistentvolume.yml"]["spec"]["nfs"]
    assert nfs == {"server": "192.168.10.1", "path": "/nfs/images", "readOnly": True}


@pytest.mark.parametrize("case, version", [("default", "4.1"), ("custom_k8s", "4.2")])
def test_volume_pins_the_clients_nfs_version_and_mounts_hard(rendered, case, version):
    options = objects(rendered, case)["k8s_persistentvolume.yml"]["spec"]["mountOptions"]
    assert "hard" in options
    assert [o for o in options if o.startswith(("nfsvers=", "vers="))] == ["nfsvers=" + version]


def test_volume_is_read_only_many_retained_and_5gi(rendered):
    spec = objects(rendered, "default")["k8s_persistentvolume.yml"]["spec"]
    assert spec["accessModes"] == ["ReadOnlyMany"]
    assert spec["persistentVolumeReclaimPolicy"] == "Retain"
    assert spec["capacity"] == {"storage": "5Gi"}


@pytest.mark.parametrize("case, pvc, namespace", [("default", "nfs-images", "default"),
                                                  ("custom_k8s", "imagenet-val", "bench")])
def test_volume_is_reserved_for_the_claim_and_the_claim_for_the_volume(rendered, case, pvc, namespace):
    objs = objects(rendered, case)
    pv, claim = objs["k8s_persistentvolume.yml"], objs["k8s_persistentvolumeclaim.yml"]
    assert claim["metadata"]["name"] == pvc and claim["metadata"]["namespace"] == namespace
    assert pv["spec"]["claimRef"]["name"] == pvc and pv["spec"]["claimRef"]["namespace"] == namespace
    assert claim["spec"]["volumeName"] == pv["metadata"]["name"]
    selector = claim["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pv["metadata"]["labels"].items()


@pytest.mark.parametrize("case", CASES)
def test_claim_fits_the_volume_and_avoids_the_default_storage_class(rendered, case):
    objs = objects(rendered, case)
    pv, claim = objs["k8s_persistentvolume.yml"], objs["k8s_persistentvolumeclaim.yml"]
    # An unset class would get k3s's default (local-path) and never bind to the static volume.
    assert pv["spec"]["storageClassName"] == "" and claim["spec"]["storageClassName"] == ""
    assert claim["spec"]["resources"]["requests"]["storage"] == pv["spec"]["capacity"]["storage"]
    assert claim["spec"]["accessModes"] == pv["spec"]["accessModes"]


@pytest.mark.parametrize("case, pvc", [("default", "nfs-images"), ("custom_k8s", "imagenet-val")])
def test_check_job_mounts_the_claim_read_only_where_the_workload_reads(rendered, case, pvc):
    pod = objects(rendered, case)["k8s_check-job.yml"]["spec"]["template"]["spec"]
    (volume,) = pod["volumes"]
    assert volume["persistentVolumeClaim"] == {"claimName": pvc, "readOnly": True}
    (container,) = pod["containers"]
    assert container["volumeMounts"] == [{"name": volume["name"], "mountPath": "/data/images", "readOnly": True}]
    assert pod["restartPolicy"] == "Never"


def test_check_job_runs_on_workers_unless_no_selector_is_given(rendered):
    assert objects(rendered, "default")["k8s_check-job.yml"]["spec"]["template"]["spec"]["nodeSelector"] == {
        "node-type": "worker"}
    assert "nodeSelector" not in objects(rendered, "custom_k8s")["k8s_check-job.yml"]["spec"]["template"]["spec"]


def test_check_job_fails_without_a_manifest(rendered):
    command = objects(rendered, "default")["k8s_check-job.yml"]["spec"]["template"]["spec"]["containers"][0]
    assert "test -s /data/images/manifest.json" in command["command"][-1]
    assert objects(rendered, "default")["k8s_check-job.yml"]["spec"]["backoffLimit"] == 0


def test_local_source_is_a_named_stand_in_on_the_listed_nodes_with_the_same_claim(rendered):
    """nfs_server_pv_source: local (the container lab, no NFS client): a local volume on each
    listed node, labelled as the stand-in it is; claim, access mode and binding unchanged."""
    pv = objects(rendered, "local_pv")["k8s_persistentvolume.yml"]
    nfs_pv = objects(rendered, "default")["k8s_persistentvolume.yml"]
    assert "nfs" not in pv["spec"] and "mountOptions" not in pv["spec"]
    assert pv["spec"]["local"] == {"path": "/nfs/images"}
    term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert term == [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                           "values": ["worker1", "worker2"]}]}]
    assert pv["metadata"]["labels"]["edgeai.jc/stand-in"] == "local-copy-of-the-nfs-export"
    for key in ("accessModes", "claimRef", "storageClassName", "capacity"):
        assert pv["spec"][key] == nfs_pv["spec"][key]
    assert "edgeai.jc/stand-in" not in nfs_pv["metadata"]["labels"]
