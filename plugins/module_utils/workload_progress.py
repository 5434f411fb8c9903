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
        return where + "failed after %s: %s" % (seconds, progress.get("message") or "see its log")
    if state in ("running", "done") and progress.get("assigned"):
        share = "%d/%d images (%d %%)" % (progress["images"], progress["assigned"],
                                          100 * progress["images"] // progress["assigned"])
    elif progress.get("images") is not None and state in ("running", "done"):
        share = "%d images" % progress["images"]
    elif state == "warming up":
        return where + "warming up for its %d images, %s" % (progress["assigned"], seconds)
    else:
        return where + "starting (loading torch and the model), %s" % seconds
    rate = ", %.1f img/s" % progress["rate"] if progress.get("rate") else ""
    return where + "%s%s%s, %s" % ("done, " if state == "done" else "", share, rate, seconds)
