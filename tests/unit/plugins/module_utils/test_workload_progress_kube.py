"""The Kubernetes runner's side of the workload's progress: a Job's outcome, the pod of each
completion index, and what a pod's status adds to its log.

The Job and pod objects are a REAL indexed Job polled through the API (tests/fixtures/kube_job/,
the role's own Job on the control plane of tests/kube with kwok); the log lines are a real pod
log (tests/fixtures/benchmark/). The fuzz tests feed mutated objects and any log text and expect
a state and a line, never an exception.
"""

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.workload_progress import (
    describe_progress,
    job_outcome,
    kube_pod_progress,
    newest_pod_per_index,
    pod_has_log,
    pod_index,
    pod_where,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
POLLS = json.loads((FIXTURES / "kube_job" / "files-2-polls.json").read_text())
LOG = (FIXTURES / "benchmark" / "docker-cpu-files-1" / "logs" / "index-0.log").read_text()
LINES = LOG.splitlines()
CREATED, UNSCHEDULED, ONE_RUNNING, BOTH_SUCCEEDED, COMPLETE = POLLS


def pods_of(poll):
    return {pod_index(pod): pod for pod in poll["pods"]}


def failed(pod, exit_code=2):
    """A pod of the capture turned Failed as the kubelet reports it (phase, terminated state)."""
    pod = copy.deepcopy(pod)
    pod["status"]["phase"] = "Failed"
    pod["status"]["containerStatuses"][0]["state"] = {"terminated": {"exitCode": exit_code, "reason": "Error"}}
    return pod


def test_the_job_has_no_outcome_until_its_complete_condition():
    assert [job_outcome(poll["job"]) for poll in POLLS] == [None, None, None, None, "Complete"]


def test_a_failed_condition_is_the_outcome():
    job = copy.deepcopy(COMPLETE["job"])
    job["status"]["conditions"] = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]
    assert job_outcome(job) == "Failed"


def test_a_condition_that_is_not_true_is_no_outcome():
    job = copy.deepcopy(COMPLETE["job"])
    job["status"]["conditions"][0]["status"] = "False"
    assert job_outcome(job) is None


def test_each_pod_is_found_by_its_completion_index():
    assert sorted(pods_of(ONE_RUNNING)) == [0, 1]
    assert pod_where(pods_of(ONE_RUNNING)[1]) == "index 1 on jetson-worker2"
    assert pod_where(pods_of(UNSCHEDULED)[0]) == "index 0 on no node yet"


def test_the_newest_pod_of_an_index_stands_for_it():
    old = pods_of(ONE_RUNNING)[0]
    retry = copy.deepcopy(pods_of(ONE_RUNNING)[1])
    retry["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] = "0"
    retry["metadata"]["creationTimestamp"] = "2099-01-01T00:00:00+00:00"
    assert newest_pod_per_index([old, retry])[0] is retry
    assert newest_pod_per_index([retry, old])[0] is retry


def test_an_unscheduled_pod_waits_with_the_schedulers_reason():
    progress = kube_pod_progress(pods_of(UNSCHEDULED)[0], "")
    assert progress["state"] == "pending"
    assert progress["message"].startswith("not scheduled: 0/3 nodes are available: pod has unbound immediate")
    line = describe_progress(pod_where(pods_of(UNSCHEDULED)[0]), progress, 7)
    assert line.startswith("index 0 on no node yet: waiting (not scheduled: 0/3 nodes") and line.endswith(", 7 s")


def test_a_pod_just_created_waits_to_be_scheduled():
    assert kube_pod_progress(pods_of(CREATED)[1], "")["message"] == "not scheduled yet"


def test_a_running_pod_shows_its_logs_progress():
    pod = pods_of(ONE_RUNNING)[1]
    assert pod_has_log(pod)
    line = describe_progress(pod_where(pod), kube_pod_progress(pod, "\n".join(LINES[:3])), 20)
    assert line == "index 1 on jetson-worker2: 16/41 images (39 %), 0.7 img/s, 20 s"


def test_a_running_pod_without_a_log_yet_is_starting():
    # The recorded API answered 500 for the log (kwok runs no kubelet): the action passes "".
    pod = pods_of(ONE_RUNNING)[1]
    assert kube_pod_progress(pod, "")["state"] == "starting"


def test_a_succeeded_pod_is_done_with_or_without_its_log():
    pod = pods_of(BOTH_SUCCEEDED)[0]
    assert describe_progress(pod_where(pod), kube_pod_progress(pod, ""), 35) == "index 0 on jetson-worker1: done, 35 s"
    assert describe_progress(pod_where(pod), kube_pod_progress(pod, LOG), 90) == (
        "index 0 on jetson-worker1: done, 40/41 images (97 %), 0.5 img/s, 90 s")


def test_a_failed_pod_says_failed_with_its_exit_code():
    pod = failed(pods_of(BOTH_SUCCEEDED)[1])
    line = describe_progress(pod_where(pod), kube_pod_progress(pod, "\n".join(LINES[:3])), 40)
    assert line == "index 1 on jetson-worker2: FAILED after 40 s: exit code 2, Error"


def test_a_failed_pod_prefers_the_workloads_own_error():
    pod = failed(pods_of(BOTH_SUCCEEDED)[1])
    progress = kube_pod_progress(pod, "[jc_infer] ERROR: IMAGE_DIR=/data/images holds no JPEG images")
    assert (progress["state"], progress["message"]) == ("failed", "IMAGE_DIR=/data/images holds no JPEG images")


def test_an_image_that_cannot_be_pulled_is_named():
    pod = copy.deepcopy(pods_of(UNSCHEDULED)[0])
    pod["status"]["containerStatuses"] = [{"name": "jc-infer", "state": {"waiting": {
        "reason": "ImagePullBackOff", "message": 'Back-off pulling image "edgeai-jc/jc-infer:0.1.0"'}}}]
    progress = kube_pod_progress(pod, "")
    assert progress["state"] == "pending" and progress["message"].startswith(
        'ImagePullBackOff: Back-off pulling image "edgeai-jc/jc-infer:0.1.0" (the Job waits')


def _mutations():
    pod = pods_of(ONE_RUNNING)[1]
    junk = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                     st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
    paths = [("status",), ("status", "phase"), ("status", "containerStatuses"), ("status", "conditions"),
             ("metadata",), ("metadata", "annotations"), ("spec",), ("spec", "nodeName")]
    return st.tuples(st.just(pod), st.sampled_from(paths), junk)


@given(_mutations(), st.text(max_size=200))
def test_mutated_pods_and_any_log_give_a_line(mutation, log):
    pod, path, value = mutation
    pod = copy.deepcopy(pod)
    target = pod
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    progress = kube_pod_progress(pod, log)
    assert progress["state"] in ("starting", "pending", "warming up", "running", "done", "failed")
    assert describe_progress(pod_where(pod), progress, 3).startswith("index ")
    pod_has_log(pod)
    newest_pod_per_index([pod, pods_of(ONE_RUNNING)[0]])


@given(st.recursive(st.one_of(st.none(), st.text(max_size=8), st.integers()),
                    lambda children: st.one_of(st.lists(children, max_size=3),
                                               st.dictionaries(st.sampled_from(["status", "conditions", "type"]),
                                                               children, max_size=3)), max_leaves=10))
def test_any_json_as_a_job_gives_an_outcome_or_none(job):
    assert job_outcome(job) in (None, "Complete", "Failed")


@pytest.mark.parametrize("poll", POLLS, ids=["created", "unscheduled", "one-running", "both-succeeded", "complete"])
def test_every_recorded_pod_gives_a_line(poll):
    for pod in poll["pods"]:
        assert describe_progress(pod_where(pod), kube_pod_progress(pod, ""), 1).startswith("index ")
