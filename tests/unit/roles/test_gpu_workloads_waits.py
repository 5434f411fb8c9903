"""Both of gpu_workloads' runners wait through edgeai.jetson_cluster.workload_wait (per-pod
progress lines), never through an until-loop, whose every retry prints "FAILED - RETRYING"
(issue 16: a newcomer reads those as errors). The action's own behaviour is tested in
tests/unit/plugins/action/test_workload_wait.py."""

from pathlib import Path

import pytest
import yaml

TASKS = Path(__file__).resolve().parents[3] / "roles" / "gpu_workloads" / "tasks"


def tasks_of(name):
    def walk(tasks):
        for task in tasks or []:
            yield task
            for key in ("block", "rescue", "always"):
                yield from walk(task.get(key))
    return list(walk(yaml.safe_load((TASKS / name).read_text())))


@pytest.mark.parametrize("name", ["run_docker.yml", "run_kubernetes.yml"])
def test_the_runner_waits_with_workload_wait_and_no_until_loop(name):
    tasks = tasks_of(name)
    assert [t for t in tasks if "edgeai.jetson_cluster.workload_wait" in t], name
    assert [t.get("name") for t in tasks if "until" in t] == [], name


def test_the_kubernetes_wait_follows_the_job_the_role_started():
    wait = [t for t in tasks_of("run_kubernetes.yml") if "edgeai.jetson_cluster.workload_wait" in t][0]
    args = wait["edgeai.jetson_cluster.workload_wait"]
    assert args["job_name"] == "{{ gpu_workloads_job_name }}"
    assert args["namespace"] == "{{ gpu_workloads_namespace }}"
    assert args["kubeconfig"] == "{{ gpu_workloads_kubeconfig }}"
    assert wait["register"] == "gpu_workloads_job"
