"""k3s_agent's API step (roles/k3s_common/tasks/node.yml, through k3s_agent's tasks/api.yml) against a
REAL kube-apiserver (tests/helpers/kube_controlplane.py; kwok keeps the node Ready).

The k3s Molecule scenarios register their nodes with node-label already in config.yaml, so there the
label patch never has anything to do. Here the node registered without the worker label, as a board
that joined before the collection managed it (the reference build): the role must add the labels
(changed), a second run must change nothing, and check mode must report without patching.
"""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from kube_controlplane import KWOK_ANNOTATION, ControlPlane
from kubernetes import client

pytestmark = pytest.mark.kube

ROOT = Path(__file__).resolve().parents[2]
NODE = "jetson-worker3"
PLAYBOOK = """\
- hosts: k3s_agents
  gather_facts: false
  tasks:
    - name: The agent's API step, as site.yml runs it
      ansible.builtin.include_role:
        name: edgeai.jetson_cluster.k3s_agent
        tasks_from: api.yml
"""


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    plane = ControlPlane(tmp_path_factory.mktemp("kube"))
    try:
        plane.start()
        plane.start_kwok()
        core = client.CoreV1Api(plane.client())
        # What k3s registers without node-label: the kubelet's own labels only.
        core.create_node({"apiVersion": "v1", "kind": "Node",
                          "metadata": {"name": NODE, "annotations": {KWOK_ANNOTATION: "fake"},
                                       "labels": {"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux",
                                                  "site": "old"}}})
        yield plane, core
    finally:
        plane.stop()


def run_role(tmp_path, plane, *extra):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "k3s_agents:\n  hosts:\n    %s:\n      ansible_connection: local\n"
        "      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
        "      k3s_agent_node_name: %s\n      k3s_agent_kubeconfig: %s\n"
        "      k3s_agent_node_labels: [site=lab]\n      k3s_agent_node_ready_retries: 24\n"
        % (NODE, NODE, plane.kubeconfigs["admin"]))
    playbook = tmp_path / "api.yml"
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), str(playbook)] + list(extra),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    recap = re.search(r"^%s\s*:.*$" % NODE, output.rsplit("PLAY RECAP", 1)[-1], re.M).group(0)
    return int(re.search(r"changed=(\d+)", recap).group(1)), output


def labels(core):
    return core.read_node(NODE).metadata.labels


def test_a_node_that_joined_without_the_labels_gets_them_once_and_check_mode_only_reports(plane, tmp_path):
    control, core = plane
    deadline = time.time() + 120
    while not any(c.type == "Ready" and c.status == "True" for c in core.read_node(NODE).status.conditions or []):
        assert time.time() < deadline, "kwok did not make %s Ready" % NODE
        time.sleep(1)

    changed, output = run_role(tmp_path, control, "--check")
    assert changed == 1, output[-3000:]
    assert "node-type" not in labels(core) and labels(core)["site"] == "old"

    changed, output = run_role(tmp_path, control)
    assert changed == 1, output[-3000:]
    now = labels(core)
    assert (now["node-type"], now["site"], now["kubernetes.io/hostname"]) == ("worker", "lab", NODE)

    # kwok's heartbeats keep changing the Node's status meanwhile; the labels are what counts.
    for _ in range(2):
        changed, output = run_role(tmp_path, control)
        assert changed == 0, output[-3000:]
