# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""How far a workload pod has got, read from its log (pure logic behind the workload_wait action).

The inference workload (roles/gpu_workloads/files/jc_infer/) writes human progress to stderr:

    [jc_infer] files on cpu (cpu): batch 8, fp32, decode cpu, 1 worker(s), images [0, 41)
    [jc_infer] 8/41 images, 0.7 img/s
    [jc_infer] done: 40 images, 1 errors, 87.498 s, 0.5 img/s
    [jc_infer] ERROR: IMAGE_DIR=/data/images holds no JPEG images ...

pod_progress() turns the tail of such a log (any text: other lines, partial lines, binary
noise) into a small dict; describe_progress() into one line for the console while a run is
waited for.

The Kubernetes runner's pods are also read from their API objects (dicts as the API returns
them, e.g. a kubernetes.core client's to_dict()): job_outcome() says whether an indexed Job has
ended, newest_pod_per_index() picks the pod that stands for each completion index, and
kube_pod_progress() adds what the pod's phase and container status tell (not scheduled yet,
pulling, failed with an exit code) to what its log tells.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_PREFIX = r"^\[jc_infer\] "
_STARTED = re.compile(_PREFIX + r"(?P<mode>synthetic|files) on .*images \[(?P<start>\d+), (?P<end>\d+)\)\s*$")
_PROGRESS = re.compile(_PREFIX + r"(?P<done>\d+)/(?P<assigned>\d+) images, (?P<rate>\d+(?:\.\d+)?) img/s\s*$")
_DONE = re.compile(_PREFIX + r"done: (?P<done>\d+) images, (?P<errors>\d+) errors, (?P<seconds>\d+(?:\.\d+)?) s")
_NOTHING = re.compile(_PREFIX + r"index \d+ of \d+ has no images assigned")
_ERROR = re.compile(_PREFIX + r"ERROR: (?P<message>.*)$")


def pod_progress(text):
    """The state of one pod from its log text: {"state", "images", "assigned", "rate", "message"}.

    state is "starting" (nothing of jc_infer's yet: the container, torch, the model are loading),
    "warming up" (the partition is known, the timed pass has not reported yet), "running",
    "done" or "failed". images/assigned/rate are None where the log does not tell yet.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    state = {"state": "starting", "images": None, "assigned": None, "rate": None, "message": None}
    for line in str(text or "").splitlines():
        line = line.strip()
        match = _STARTED.match(line)
        if match:
            state.update(state="warming up", images=0, assigned=int(match.group("end")) - int(match.group("start")))
            continue
        match = _PROGRESS.match(line)
        if match:
            state.update(state="running", images=int(match.group("done")), assigned=int(match.group("assigned")),
                         rate=float(match.group("rate")))
            continue
        match = _DONE.match(line)
        if match:
            state.update(state="done", images=int(match.group("done")),
                         rate=None if float(match.group("seconds")) == 0 else
                         round(int(match.group("done")) / float(match.group("seconds")), 3))
            continue
        if _NOTHING.match(line):
            state.update(state="done", images=0, assigned=0)
            continue
        match = _ERROR.match(line)
        if match:
            state.update(state="failed", message=match.group("message")[:200])
    return state


def describe_progress(name, progress, elapsed):
    """One console line: 'index 1 on worker2: 320/600 images (53 %), 4.1 img/s, 78 s'."""
    where = "%s: " % name
    seconds = "%d s" % max(0, int(elapsed))
    state = progress.get("state")
    if state == "failed":
        return where + "FAILED after %s: %s" % (seconds, progress.get("message") or "see its log")
    if state == "pending":
        return where + "waiting (%s), %s" % (progress.get("message") or "not started yet", seconds)
    if state in ("running", "done") and progress.get("assigned"):
        share = "%d/%d images (%d %%)" % (progress["images"], progress["assigned"],
                                          100 * progress["images"] // progress["assigned"])
    elif progress.get("images") is not None and state in ("running", "done"):
        share = "%d images" % progress["images"]
    elif state == "done":
        return where + "done, %s" % seconds
    elif state == "warming up":
        return where + "warming up for its %d images, %s" % (progress["assigned"], seconds)
    else:
        return where + "starting (loading torch and the model), %s" % seconds
    rate = ", %.1f img/s" % progress["rate"] if progress.get("rate") else ""
    return where + "%s%s%s, %s" % ("done, " if state == "done" else "", share, rate, seconds)


# The Job controller's annotation (and, from Kubernetes 1.28, label) on each pod of an indexed Job.
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
# Reasons a container waits for that need a person (the Job does not fail on them by itself).
_STUCK = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
          "CreateContainerError", "CrashLoopBackOff", "ErrImageNeverPull")


def _mapping(value):
    return value if isinstance(value, dict) else {}


def job_outcome(job):
    """"Complete" or "Failed" once a batch/v1 Job has ended (its condition of that type is "True"), else None."""
    conditions = _mapping(_mapping(job).get("status")).get("conditions")
    for condition in conditions if isinstance(conditions, list) else []:
        condition = _mapping(condition)
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return condition["type"]
    return None


def pod_index(pod):
    """The completion index a pod of an indexed Job runs (int), or None."""
    metadata = _mapping(_mapping(pod).get("metadata"))
    for source in (_mapping(metadata.get("annotations")), _mapping(metadata.get("labels"))):
        value = source.get(INDEX_KEY)
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def newest_pod_per_index(pods):
    """{index: pod}, the newest pod (creationTimestamp, then name) of each index; pods without one are left out."""
    chosen = {}
    for pod in pods if isinstance(pods, list) else []:
        index = pod_index(pod)
        if index is None:
            continue
        metadata = _mapping(pod.get("metadata"))
        key = (str(metadata.get("creationTimestamp") or ""), str(metadata.get("name") or ""))
        if index not in chosen or key >= chosen[index][0]:
            chosen[index] = (key, pod)
    return {index: pod for index, (_, pod) in chosen.items()}


def pod_where(pod):
    """'index 1 on jetson-worker2' (or 'on no node yet')."""
    index = pod_index(pod)
    node = _mapping(_mapping(pod).get("spec")).get("nodeName")
    return "index %s on %s" % ("?" if index is None else index, node or "no node yet")


def pod_has_log(pod):
    """Whether the pod's container has started, so that the API can have a log for it."""
    return _mapping(_mapping(pod).get("status")).get("phase") in ("Running", "Succeeded", "Failed")


def kube_pod_progress(pod, log_text):
    """pod_progress() of the pod's log, corrected by what the pod's status says.

    A pod the scheduler has not placed, or whose container waits (image pull, container
    creation), is "pending" with the reason; phase Failed is "failed" with the log's error line
    or the container's exit code and reason; phase Succeeded is "done".
    """
    progress = pod_progress(log_text)
    status = _mapping(_mapping(pod).get("status"))
    phase = status.get("phase")
    statuses = status.get("containerStatuses")
    container = _mapping(statuses[0]) if isinstance(statuses, list) and statuses else {}
    container_state = _mapping(container.get("state"))
    if phase == "Failed":
        if progress["state"] != "failed":
            terminated = _mapping(container_state.get("terminated"))
            cause = status.get("reason") or terminated.get("reason") or "Error"
            message = status.get("message") or terminated.get("message")
            if terminated.get("exitCode") is not None:
                cause = "exit code %s, %s" % (terminated["exitCode"], cause)
            progress.update(state="failed", message=str(cause if not message else "%s: %s" % (cause, message))[:200])
    elif phase == "Succeeded":
        if progress["state"] != "done":
            progress.update(state="done")
    elif progress["state"] == "starting" and phase != "Running":
        waiting = _mapping(container_state.get("waiting"))
        if waiting.get("reason"):
            message = waiting["reason"] + (": " + str(waiting["message"]) if waiting.get("message") else "")
            if waiting["reason"] in _STUCK:
                message += " (the Job waits; it does not fail on this by itself)"
        else:
            message = "not scheduled yet"
            conditions = status.get("conditions")
            for condition in conditions if isinstance(conditions, list) else []:
                condition = _mapping(condition)
                if condition.get("type") == "PodScheduled":
                    if condition.get("status") == "True":
                        message = "scheduled, container not started yet"
                    elif condition.get("message"):
                        message = "not scheduled: %s" % condition["message"]
        progress.update(state="pending", message=message[:200])
    return progress
