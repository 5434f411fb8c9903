# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""What a run reports: the error log, the one JSON result line on stdout, progress on stderr."""

from __future__ import division, print_function

import json
import os
import socket
import sys
import threading
import time

_T_MODULE = time.time()

MAX_ERROR_SAMPLES = 5


class ErrorLog(object):
    """Counts images that could not be used and keeps a few messages as examples."""

    def __init__(self):
        self.count = 0
        self.samples = []
        self._lock = threading.Lock()

    def add(self, path, reason):
        text = str(reason).strip()
        text = text.splitlines()[0][:200] if text else type(reason).__name__
        with self._lock:
            self.count += 1
            if len(self.samples) < MAX_ERROR_SAMPLES:
                self.samples.append("%s: %s" % (os.path.basename(str(path)), text))


def build_result(settings, plan, images, errors, seconds, warmup_seconds, startup, device, device_name,
                 batch_size, precision, decode, extra=None):
    result = {
        "index": settings["job_completion_index"],
        "total_jobs": settings["total_jobs"],
        "mode": settings["workload_mode"],
        "images": images,
        "errors": errors.count,
        "assigned": plan["end"] - plan["start"],
        "partition": [plan["start"], plan["end"]],
        "seconds": round(seconds, 6),
        "warmup_seconds": round(warmup_seconds, 6),
        "throughput": round(images / seconds, 3) if seconds > 0 else 0.0,
        "startup_seconds": round(sum(startup.values()), 6),
        "startup": dict((k, round(v, 6)) for k, v in startup.items()),
        "device": device,
        "device_name": device_name,
        "batch_size": batch_size,
        "precision": precision,
        "decode": decode,
        "hostname": socket.gethostname(),
        "dataset_count": plan["dataset_count"],
        "manifest_count": plan["manifest_count"],
        "error_samples": list(errors.samples),
    }
    if extra:
        result.update(extra)
    return result


def emit(result, stream=None):
    stream = sys.stdout if stream is None else stream
    stream.write(json.dumps(result, sort_keys=True) + "\n")
    stream.flush()


def log(message):
    sys.stderr.write("[jc_infer] %s\n" % message)
    sys.stderr.flush()


def process_age():
    """Seconds since this process was created (Linux /proc), else None."""
    try:
        with open("/proc/self/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # starttime: field 22, counted after "pid (comm)"
        with open("/proc/uptime") as handle:
            uptime_now = float(handle.read().split()[0])
        return max(0.0, uptime_now - started)
    except (IOError, OSError, ValueError, IndexError, KeyError):
        return None


def interpreter_seconds():
    """Seconds from the process's creation to this module's import (Linux /proc), else 0."""
    age = process_age()
    return 0.0 if age is None else max(0.0, age - (time.time() - _T_MODULE))


def add_process_seconds(result, age=None):
    """Adds the time from the process's creation to this result line and where it went:
    "process_seconds", "fixed_seconds" (all of it but the timed window) and "fixed" =
    {"startup", "warmup", "other"} that add up to fixed_seconds ("other": what no phase counts, such as
    collecting the predictions after the window). The parent measures the time from the line to the
    process's exit. Without /proc (age None) it uses the time since this module's import plus the
    interpreter's share, which is then 0."""
    if age is None:
        age = process_age()
    if age is None:
        age = time.time() - _T_MODULE + result.get("startup", {}).get("interpreter", 0.0)
    fixed = max(0.0, age - result["seconds"])
    startup, warmup = result["startup_seconds"], result["warmup_seconds"]
    result["process_seconds"] = round(age, 6)
    result["fixed_seconds"] = round(fixed, 6)
    result["fixed"] = {"startup": startup, "warmup": warmup, "other": round(fixed - startup - warmup, 6)}
    window_end = result.get("timeline", {}).get("window_end")
    if window_end:  # part of "other": the window's end to this line (collecting the predictions, the result)
        result["after_window_seconds"] = round(max(0.0, time.time() - window_end), 6)
    return result
