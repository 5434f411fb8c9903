"""Workload III's Kubernetes objects (roles/pipeline_workload/templates/pipeline.yaml.j2),
rendered by ansible-playbook with the role's defaults (k3s_render.py) for a reference
placement, the other depths and an explicit host/label list, and validated against the schemas
of the Kubernetes that the pinned k3s release runs (kubernetes-validate, strict)."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from k3s_render import render

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.k3s_release import parse_version

ROOT = Path(__file__).resolve().parents[2]
S = {"node-role.kubernetes.io/control-plane": "true"}
E = {"node-type": "worker"}
CASES = {
    # The letters of all five reference placements are covered by the filter's unit tests
    # (tests/unit/plugins/module_utils/test_pipeline_placement.py); one of them renders here.
    "EESS": ("EESS", [E, E, S, S]),
    "depth-2": ("ES", [E, S]),
    "depth-3": ("EES", [E, E, S]),
    "explicit": ([{"host": "jetson-worker1"}, "E", {"labels": {"edgeai.jc/fast": "yes"}}],
                 [{"kubernetes.io/hostname": "jetson-worker1"}, E, {"edgeai.jc/fast": "yes"}]),
}


@pytest.fixture(scope="module")
def kubernetes(tmp_path_factory):
    """The Kubernetes version of the k3s release the k3s_server role installs."""
    where = tmp_path_factory.mktemp("k3s")
    (where / "out").mkdir()
    _, resolved = render(where, "k3s_server", "jetson-master", [], resolve=["k3s_server_version"])
    return parse_version(resolved["k3s_server_version"])["kubernetes"]


@pytest.fixture(scope="module", params=sorted(CASES))
def rendered(request, tmp_path_factory):
    placement, selectors = CASES[request.param]
    out, _ = render(tmp_path_factory.mktemp(request.param), "pipeline_workload", "jetson-master",
                    ["pipeline.yaml"], {"pipeline_workload_placement": placement})
    return list(yaml.safe_load_all((out / "pipeline.yaml").read_text())), selectors


def test_every_object_is_valid_for_the_pinned_kubernetes(rendered, kubernetes):
    objects, _ = rendered
    for obj in objects:
        kubernetes_validate.validate(obj, kubernetes, strict=True)


def test_one_deployment_and_service_per_stage_plus_namespace_and_sink(rendered):
    objects, selectors = rendered
    kinds = [obj["kind"] for obj in objects]
    assert kinds == ["Namespace"] + ["Deployment", "Service"] * len(selectors) + ["Job"]


def test_stages_are_pinned_by_the_placement(rendered):
    objects, selectors = rendered
    deployments = [obj for obj in objects if obj["kind"] == "Deployment"]
    assert [d["spec"]["template"]["spec"]["nodeSelector"] for d in deployments] == selectors


def test_each_stage_pulls_from_the_service_of_the_one_before(rendered):
    objects, selectors = rendered
    depth = len(selectors)
    services = [obj["metadata"]["name"] for obj in objects if obj["kind"] == "Service"]
    args = [obj["spec"]["template"]["spec"]["containers"][0]["args"] for obj in objects if obj["kind"] == "Deployment"]
    upstreams = [a[a.index("--upstream") + 1] if "--upstream" in a else None for a in args]
    assert upstreams == [None] + ["%s:50051" % name for name in services[:-1]]
    assert [a[a.index("--index") + 1] for a in args] == [str(i) for i in range(depth)]
    assert {a[a.index("--depth") + 1] for a in args} == {str(depth)}


def test_services_select_their_own_stage(rendered):
    objects, _ = rendered
    pods = {obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]["labels"]
            for obj in objects if obj["kind"] == "Deployment"}
    for service in (obj for obj in objects if obj["kind"] == "Service"):
        labels = pods[service["metadata"]["name"]]
        assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())


def test_sink_pulls_from_the_last_stage_on_its_node(rendered):
    objects, selectors = rendered
    job = objects[-1]["spec"]["template"]["spec"]
    args = job["containers"][0]["args"]
    assert (args[args.index("--address") + 1], job["nodeSelector"]) == (
        "jc-pipeline-s%d:50051" % (len(selectors) - 1), selectors[-1])


def test_a_bad_placement_fails_the_render_with_the_filter_message(tmp_path):
    with pytest.raises(AssertionError, match="pipeline_stages: stage 2: placement letter 'X'"):
        render(tmp_path, "pipeline_workload", "jetson-master", ["pipeline.yaml"], {"pipeline_workload_placement": "SSX"})


def test_role_renders_the_manifest_once_and_then_changes_nothing(tmp_path):
    import json
    import os
    import subprocess
    import sys

    playbook = tmp_path / "play.yml"
    manifest = tmp_path / "out" / "jc.yaml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "roles": [{
        "role": "edgeai.jetson_cluster.pipeline_workload",
        "vars": {"pipeline_workload_placement": "EEES", "pipeline_workload_manifest_path": str(manifest)}}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
               "-e", json.dumps({"ansible_python_interpreter": sys.executable}), str(playbook)]
    changed = []
    for _ in range(2):
        proc = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:]
        changed.append(json.loads(proc.stdout[proc.stdout.index("{"):])["stats"]["localhost"]["changed"])
    assert changed == [2, 0]
    assert [obj["kind"] for obj in yaml.safe_load_all(manifest.read_text())].count("Deployment") == 4


def test_the_matrix_renders_one_valid_manifest_per_placement_and_size(tmp_path, kubernetes):
    import json
    import os
    import subprocess
    import sys

    out = tmp_path / "matrix"
    playbook = tmp_path / "matrix.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "ansible.builtin.include_role": {"name": "edgeai.jetson_cluster.pipeline_workload", "tasks_from": "matrix"},
        "vars": {"pipeline_workload_matrix_depths": [2, 4], "pipeline_workload_matrix_sizes": ["128x128", "1280x720"],
                 "pipeline_workload_matrix_dir": str(out)}}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
                           "-e", json.dumps({"ansible_python_interpreter": sys.executable}), str(playbook)],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    placements = ["SS", "ES", "EE", "SSSS", "ESSS", "EESS", "EEES", "EEEE"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        "%s-%s.yaml" % (p, size) for p in placements for size in ("128x128", "1280x720"))
    for placement in ("ES", "EEES"):
        objects = list(yaml.safe_load_all((out / ("%s-1280x720.yaml" % placement)).read_text()))
        for obj in objects:
            kubernetes_validate.validate(obj, kubernetes, strict=True)
        selectors = [d["spec"]["template"]["spec"]["nodeSelector"] for d in objects if d["kind"] == "Deployment"]
        assert selectors == [E if letter == "E" else S for letter in placement]
        sink = objects[-1]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert sink[sink.index("--key") + 1] == "1280x720"
