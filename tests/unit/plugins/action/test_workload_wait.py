"""The workload_wait action: polls each container's async job, prints its progress from its log
between polls, and returns every job's final status (sorted by index) without judging it."""

from unittest import mock

import pytest
from ansible.playbook.task import Task
from ansible.template import Templar

from ansible_collections.edgeai.jetson_cluster.plugins.action import workload_wait

RUNNING = "[jc_infer] files on cpu (cpu): batch 8, fp32, decode cpu, 1 worker(s), images [0, 41)\n" \
          "[jc_infer] 16/41 images, 0.7 img/s\n"


def make_action(args, statuses, logs=(RUNNING,)):
    """An action whose async_status answers come from statuses[jid] (a list, one per poll)."""
    task = Task()
    task.args = args
    connection = mock.MagicMock()
    action = workload_wait.ActionModule(task, connection, mock.MagicMock(), loader=None,
                                        templar=Templar(loader=None), shared_loader_obj=None)
    calls = {"status": [], "logs": []}

    def execute_module(module_name, task_vars, module_args):
        calls["status"].append(module_args["jid"])
        return dict(statuses[module_args["jid"]].pop(0))

    def low_level(command, **_kwargs):
        calls["logs"].append(command)
        text = logs[min(len(calls["logs"]), len(logs)) - 1]
        return {"rc": 0 if text else 1, "stdout": "", "stderr": text}

    action._execute_module = execute_module
    action._low_level_execute_command = low_level
    action._remote_expand_user = lambda path: path
    action.get_shell_option = lambda name, default=None: default
    action._remove_tmp_path = lambda path: None
    return action, calls


@pytest.fixture
def shown(monkeypatch):
    lines = []
    monkeypatch.setattr(workload_wait.display, "display", lambda msg, **kw: lines.append(msg))
    monkeypatch.setattr(workload_wait.time, "sleep", lambda seconds: None)
    return lines


def started(*indices):
    return [{"item": i, "ansible_job_id": "j%d" % i, "started": 1, "finished": 0} for i in indices]


def test_progress_is_shown_until_every_job_ends(shown):
    action, calls = make_action(
        {"jobs": started(0, 2), "container_prefix": "jc-infer-files-3-", "timeout": 600, "worker": "worker1"},
        {"j0": [{"finished": 0}, {"finished": 1, "status": 0}],
         "j2": [{"finished": 0}, {"finished": 0}, {"finished": 1, "status": 0}]})
    result = action.run(task_vars={"inventory_hostname": "localhost"})
    assert [r["index"] for r in result["results"]] == [0, 2] and all(r["finished"] for r in result["results"])
    assert result["changed"] is False and not result.get("failed")
    assert calls["logs"][:2] == ["docker logs --tail 20 jc-infer-files-3-0", "docker logs --tail 20 jc-infer-files-3-2"]
    progress = [line for line in shown if "16/41 images" in line]
    assert progress[0].strip().startswith("index 0 on worker1: 16/41 images (39 %), 0.7 img/s")
    assert len(progress) == 3  # two jobs at the first poll, job 2 alone at the second
    assert not any("FAILED" in line or "RETRYING" in line for line in shown)


def test_a_failed_container_is_returned_not_raised(shown):
    action, _ = make_action({"jobs": started(1), "container_prefix": "c-", "timeout": 600},
                            {"j1": [{"finished": 1, "status": 2, "failed": True}]})
    result = action.run(task_vars={"inventory_hostname": "worker2"})
    assert not result.get("failed") and result["results"][0]["status"] == 2
    assert "index 1 on worker2: ended after 0 s, FAILED (exit status 2)" in [line.strip() for line in shown]


def test_jobs_still_running_at_the_timeout_come_back_unfinished(shown, monkeypatch):
    clock = iter(range(0, 10000, 50))
    monkeypatch.setattr(workload_wait.time, "time", lambda: next(clock))
    action, _ = make_action({"jobs": started(0), "container_prefix": "c-", "timeout": 120},
                            {"j0": [{"finished": 0}] * 10})
    result = action.run(task_vars={})
    assert result["results"] == [{"index": 0, "finished": False, "ansible_job_id": "j0",
                                  "msg": "still running after 120 s"}]


def test_jobs_must_be_results_of_the_async_start(shown):
    action, _ = make_action({"jobs": [{"index": 0}], "container_prefix": "c-", "timeout": 60}, {})
    result = action.run(task_vars={})
    assert result["failed"] is True and "item (its job index) and ansible_job_id" in result["msg"]


def test_a_log_that_is_gone_keeps_the_last_progress(shown):
    # cleanup: true removes an ended container before its async job reports back
    action, _ = make_action({"jobs": started(0), "container_prefix": "c-", "timeout": 600, "worker": "w"},
                            {"j0": [{"finished": 0}, {"finished": 0}, {"finished": 1, "status": 0}]},
                            logs=(RUNNING, ""))
    action.run(task_vars={})
    progress = [line.strip() for line in shown if line.strip().startswith("index 0 on w: 16/41")]
    assert len(progress) == 2 and not any("starting" in line for line in shown)
