"""The workload_wait action: polls each container's async job, prints its progress from its log
between polls, and returns every job's final status (sorted by index) without judging it."""

import copy
import json
from pathlib import Path
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


# The Kubernetes runner: the Job and its pods come from a REAL indexed Job polled through the API
# (tests/fixtures/kube_job/), the pods' log lines from a real pod log (tests/fixtures/benchmark/).
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
POLLS = json.loads((FIXTURES / "kube_job" / "files-2-polls.json").read_text())
LOG_LINES = (FIXTURES / "benchmark" / "docker-cpu-files-1" / "logs" / "index-0.log").read_text().splitlines()


class ApiError(Exception):
    """Stands for kubernetes.client.ApiException: status and reason."""

    def __init__(self, status, reason):
        super().__init__("(%s) %s" % (status, reason))
        self.status, self.reason = status, reason


class Reply(object):
    def __init__(self, value):
        self.value, self.data = value, value

    def to_dict(self):
        return copy.deepcopy(self.value)


class FakeApi(object):
    """kubernetes.core's client as the action uses it: resource(kind, api_version).get(...) and
    Pod's .log.get(...), answering each poll from the recorded polls (the last one repeats) and
    each log request from logs[pod name] (a list, one per request; None: the recorded 500)."""

    def __init__(self, polls, logs=None, errors=()):
        self.polls, self.logs, self.errors = list(polls), logs or {}, list(errors)
        self.poll, self.calls = -1, []
        api = self

        class Log(object):
            def get(self, name, namespace, serialize, query_params):
                api.calls.append(("log", name, query_params["tailLines"]))
                answers = api.logs.get(name) or [None]
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if answer is None:
                    raise ApiError(500, "Internal Server Error")
                return Reply(answer.encode())

        class Resource(object):
            def __init__(self, kind):
                self.kind, self.log = kind, Log()

            def get(self, **params):
                api.calls.append((self.kind, params))
                if self.kind == "Job":
                    if api.errors:
                        raise api.errors.pop(0)
                    api.poll = min(api.poll + 1, len(api.polls) - 1)
                    return Reply(api.polls[api.poll]["job"])
                return Reply({"items": api.polls[api.poll]["pods"]})

        self.resource = lambda kind, api_version: Resource(kind)


def make_kube_action(args, api, monkeypatch):
    task = Task()
    task.args = dict({"job_name": "jc-infer-files-2", "namespace": "edgeai-jc", "timeout": 600,
                      "kubeconfig": "/tmp/kubeconfig"}, **args)
    action = workload_wait.ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None,
                                        templar=Templar(loader=None), shared_loader_obj=None)
    seen = []
    monkeypatch.setattr(workload_wait, "api_client", lambda kubeconfig: seen.append(kubeconfig) or api)
    monkeypatch.setattr(workload_wait.time, "time", lambda: 1000.0)  # "0 s" however loaded the machine
    return action, seen


def names(poll):
    return {pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: pod["metadata"]["name"]
            for pod in poll["pods"]}


def test_the_job_is_followed_pod_by_pod_until_complete(shown, monkeypatch):
    running = names(POLLS[2])
    api = FakeApi(POLLS, logs={running["1"]: ["\n".join(LOG_LINES[:3])], running["0"]: ["\n".join(LOG_LINES)]})
    action, seen = make_kube_action({}, api, monkeypatch)
    result = action.run(task_vars={})
    assert seen == ["/tmp/kubeconfig"]
    assert not result.get("failed") and result["changed"] is False
    assert result["finished"] is True and result["outcome"] == "Complete"
    assert result["resources"][0]["status"]["completedIndexes"] == "0,1"
    lines = [line.strip() for line in shown]
    assert "index 0 on no node yet: waiting (not scheduled yet), 0 s" in lines
    assert any(line.startswith("index 1 on no node yet: waiting (not scheduled: 0/3 nodes are available") for line in lines)
    assert "index 1 on jetson-worker2: 16/41 images (39 %), 0.7 img/s, 0 s" in lines
    assert "index 0 on jetson-worker1: done, 40/41 images (97 %), 0.5 img/s, 0 s" in lines
    assert lines[-1] == "Job jc-infer-files-2: complete after 0 s"
    # Pods by the Job controller's label, logs only of started containers, 20 lines each.
    assert ("Pod", {"namespace": "edgeai-jc", "label_selector": "job-name=jc-infer-files-2"}) in api.calls
    assert {call[2] for call in api.calls if call[0] == "log"} == {20}
    assert len([call for call in api.calls if call[0] == "log"]) == 2 * 3  # 2 pods in the last three polls
    assert not any("FAILED" in line or "RETRYING" in line for line in lines)


def test_a_pod_already_shown_done_is_not_repeated_at_the_end(shown, monkeypatch):
    action, _ = make_kube_action({}, FakeApi(POLLS[3:]), monkeypatch)
    action.run(task_vars={})
    assert [line.strip() for line in shown].count("index 0 on jetson-worker1: done, 0 s") == 1


def test_a_failed_job_is_returned_with_failed_pods_shown(shown, monkeypatch):
    polls = copy.deepcopy(POLLS[2:])
    for poll in polls[1:]:
        pod = poll["pods"][1]
        pod["status"]["phase"] = "Failed"
        pod["status"]["containerStatuses"][0]["state"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
    polls[-1]["job"]["status"]["conditions"] = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
    action, _ = make_kube_action({}, FakeApi(polls), monkeypatch)
    result = action.run(task_vars={})
    assert not result.get("failed") and result["finished"] is True and result["outcome"] == "Failed"
    lines = [line.strip() for line in shown]
    assert "index 1 on jetson-worker2: FAILED after 0 s: exit code 1, Error" in lines
    assert lines[-1] == "Job jc-infer-files-2: FAILED after 0 s"


def test_a_job_still_running_at_the_timeout_comes_back_unfinished(shown, monkeypatch):
    action, _ = make_kube_action({"timeout": 120}, FakeApi(POLLS[:3]), monkeypatch)
    clock = iter(range(0, 10000, 50))
    monkeypatch.setattr(workload_wait.time, "time", lambda: next(clock))
    result = action.run(task_vars={})
    assert result["finished"] is False and result["outcome"] is None and not result.get("failed")
    assert result["msg"] == "Job edgeai-jc/jc-infer-files-2 still running after 120 s"


def test_an_api_hiccup_is_waited_out(shown, monkeypatch):
    action, _ = make_kube_action({}, FakeApi(POLLS, errors=[ApiError(503, "Service Unavailable")]), monkeypatch)
    result = action.run(task_vars={})
    assert result["outcome"] == "Complete"
    assert "Job jc-infer-files-2: the API did not answer (503 Service Unavailable), 0 s" in [l.strip() for l in shown]


def test_a_missing_job_fails_at_once(shown, monkeypatch):
    action, _ = make_kube_action({}, FakeApi(POLLS, errors=[ApiError(404, "Not Found")]), monkeypatch)
    result = action.run(task_vars={})
    assert result["failed"] is True and result["msg"] == "Job edgeai-jc/jc-infer-files-2 does not exist (404 Not Found)"


def test_an_unreachable_api_fails_with_the_kubeconfig(shown, monkeypatch):
    action, _ = make_kube_action({}, None, monkeypatch)

    def refuse(kubeconfig):
        raise OSError("connection refused")
    monkeypatch.setattr(workload_wait, "api_client", refuse)
    result = action.run(task_vars={})
    assert result["failed"] is True
    assert result["msg"] == "cannot reach the Kubernetes API with kubeconfig /tmp/kubeconfig: OSError: connection refused"


@pytest.mark.parametrize("args, message", [
    ({"jobs": started(0), "container_prefix": "c-"}, "mutually exclusive"),
    ({"job_name": None}, "one of the following is required"),
])
def test_the_docker_and_kubernetes_arguments_do_not_mix(shown, monkeypatch, args, message):
    action, _ = make_kube_action(args, FakeApi(POLLS), monkeypatch)
    if args.get("job_name", "") is None:
        del action._task.args["job_name"]
    with pytest.raises(Exception, match=message):
        action.run(task_vars={})


def test_the_real_client_is_kubernetes_cores():
    # The action imports kubernetes.core's get_api_client: it must exist with the pinned collection.
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    assert callable(get_api_client)


# --- The dataset claim (nfs_server's wait): its phase per poll instead of "FAILED - RETRYING".
def claim(phase, volume="jc-images-stand-in"):
    # The shape the API gives (kubernetes.core's to_dict), trimmed to what the action reads.
    body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "jc-images", "namespace": "edgeai-jc"},
            "spec": {"volumeName": volume, "storageClassName": "", "accessModes": ["ReadOnlyMany"]}}
    if phase:
        body["status"] = {"phase": phase}
    return body


class FakeClaims(object):
    """kubernetes.core's client for one kind: resource(...).get(name, namespace) answers from answers
    (the last one repeats); an exception in answers is raised instead."""

    def __init__(self, answers):
        self.answers, self.calls = list(answers), []
        api = self

        class Resource(object):
            def get(self, **params):
                api.calls.append(params)
                answer = api.answers.pop(0) if len(api.answers) > 1 else api.answers[0]
                if isinstance(answer, Exception):
                    raise answer
                return Reply(answer)

        self.resource = lambda kind, api_version: api.kinds.append((kind, api_version)) or Resource()
        self.kinds = []


def make_claim_action(args, api, monkeypatch):
    return make_kube_action(dict({"job_name": None, "claim_name": "jc-images", "timeout": 120}, **args), api, monkeypatch)


def run_claim(action):
    del action._task.args["job_name"]
    return action.run(task_vars={})


def test_the_claim_is_waited_for_with_its_phase_until_bound(shown, monkeypatch):
    api = FakeClaims([claim(None), claim("Pending"), claim("Bound")])
    action, seen = make_claim_action({}, api, monkeypatch)
    result = run_claim(action)
    assert seen == ["/tmp/kubeconfig"] and api.kinds == [("PersistentVolumeClaim", "v1")]
    assert api.calls == [{"name": "jc-images", "namespace": "edgeai-jc"}] * 3
    assert not result.get("failed") and result["changed"] is False
    assert result["bound"] is True and result["phase"] == "Bound" and "msg" not in result
    assert result["resources"] == [claim("Bound")]
    lines = [line.strip() for line in shown]
    assert lines == ["claim jc-images: Pending, waiting for jc-images-stand-in to bind, 0 s"] * 2 + [
        "claim jc-images: Bound to jc-images-stand-in after 0 s"]
    assert not any("FAILED" in line or "RETRYING" in line for line in lines)


def test_a_claim_bound_at_once_prints_one_line(shown, monkeypatch):
    action, _ = make_claim_action({}, FakeClaims([claim("Bound")]), monkeypatch)
    assert run_claim(action)["bound"] is True
    assert [line.strip() for line in shown] == ["claim jc-images: Bound to jc-images-stand-in after 0 s"]


def test_a_claim_still_pending_at_the_timeout_comes_back_unbound_with_the_reason(shown, monkeypatch):
    action, _ = make_claim_action({"timeout": 10}, FakeClaims([claim("Pending", volume=None)]), monkeypatch)
    clock = iter(range(0, 10000, 4))
    monkeypatch.setattr(workload_wait.time, "time", lambda: next(clock))
    result = run_claim(action)
    assert result["bound"] is False and result["phase"] == "Pending" and not result.get("failed")
    assert result["msg"] == "PersistentVolumeClaim edgeai-jc/jc-images still Pending after 10 s"
    assert [line.strip() for line in shown][0] == "claim jc-images: Pending, waiting for a matching volume to bind, 4 s"


def test_a_lost_claim_ends_the_wait_at_once(shown, monkeypatch):
    action, _ = make_claim_action({}, FakeClaims([claim("Lost")]), monkeypatch)
    result = run_claim(action)
    assert result["bound"] is False and result["phase"] == "Lost"
    assert result["msg"] == "PersistentVolumeClaim edgeai-jc/jc-images is Lost: its volume jc-images-stand-in is gone"


def test_an_api_hiccup_while_waiting_for_the_claim_is_waited_out(shown, monkeypatch):
    api = FakeClaims([ApiError(503, "Service Unavailable"), claim("Bound")])
    action, _ = make_claim_action({}, api, monkeypatch)
    assert run_claim(action)["bound"] is True
    assert [line.strip() for line in shown][0] == "claim jc-images: the API did not answer (503 Service Unavailable), 0 s"


def test_a_missing_claim_fails_at_once(shown, monkeypatch):
    action, _ = make_claim_action({}, FakeClaims([ApiError(404, "Not Found")]), monkeypatch)
    result = run_claim(action)
    assert result["failed"] is True
    assert result["msg"] == "PersistentVolumeClaim edgeai-jc/jc-images does not exist (404 Not Found)"


@pytest.mark.parametrize("args, message", [
    ({"job_name": "jc-infer-files-2"}, "mutually exclusive"),
    ({"container_prefix": "c-"}, "mutually exclusive"),
])
def test_the_claim_mode_takes_no_job_arguments(shown, monkeypatch, args, message):
    action, _ = make_claim_action(args, FakeClaims([claim("Bound")]), monkeypatch)
    with pytest.raises(Exception, match=message):
        action.run(task_vars={})
