"""gpu_workloads puts the image where k3s's pods look for it, and its preflight refuses the rest.

Runs the role's tasks/preflight.yml with its defaults through ansible-playbook (check mode, local
connection) over an inventory of one server and three agents: the default follows k3s's runtime
(Docker unless k3s runs its own containerd), and a store that contradicts the runtime, such as
the old default (containerd whenever cluster_kubernetes is true, with k3s on Docker), is refused
with both variables named.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]

INVENTORY = {"all": {
    "children": {
        "k3s_server": {"hosts": {"master": {}}},
        "k3s_agents": {"hosts": {
            # The old default, written out: containerd although k3s runs on Docker (the default).
            "old-default": {"gpu_workloads_image_store": "containerd"},
            # k3s without --docker on this agent: the default follows it to containerd.
            "own-containerd": {"k3s_agent_docker": False},
            # Docker store although this agent's k3s runs its own containerd.
            "docker-mismatch": {"k3s_agent_docker": False, "gpu_workloads_image_store": "docker"},
        }},
    },
    "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
             "cluster_kubernetes": True},
}}

PLAYBOOK = """
- name: Run gpu_workloads' preflight
  hosts: all
  gather_facts: false
  tasks:
    - name: Preflight
      ansible.builtin.include_role:
        name: edgeai.jetson_cluster.gpu_workloads
        tasks_from: preflight.yml
        public: true
    - name: Record the store
      ansible.builtin.debug:
        msg: "store={{ gpu_workloads_image_store }}"
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("image-store")
    (tmp / "inventory.yml").write_text(yaml.safe_dump(INVENTORY))
    (tmp / "play.yml").write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(["ansible-playbook", "--check", "-i", str(tmp / "inventory.yml"), str(tmp / "play.yml")],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    report = json.loads(proc.stdout)
    stores, failures = {}, {}
    for task in report["plays"][0]["tasks"]:
        for host, result in task["hosts"].items():
            if task["task"]["name"].endswith("Record the store"):
                stores[host] = result["msg"].split("=", 1)[1]
            if result.get("failed"):
                failures[host] = (task["task"]["name"], result.get("msg", ""))
    return stores, failures


def test_default_store_is_docker_when_k3s_runs_on_docker(results):
    stores, failures = results
    assert stores["master"] == "docker" and "master" not in failures


def test_default_store_is_containerd_when_k3s_runs_its_own(results):
    stores, failures = results
    assert stores["own-containerd"] == "containerd" and "own-containerd" not in failures


def test_the_old_default_is_refused_naming_both_variables(results):
    _, failures = results
    task, message = failures["old-default"]
    assert task.endswith(": Check that the image store is the one k3s runs pods from")
    assert "gpu_workloads_image_store is 'containerd' but k3s_docker is true" in message


def test_a_docker_store_with_k3s_on_containerd_is_refused(results):
    _, failures = results
    task, message = failures["docker-mismatch"]
    assert task.endswith(": Check that the image store is the one k3s runs pods from")
    assert "gpu_workloads_image_store is 'docker' but k3s_agent_docker is false" in message
