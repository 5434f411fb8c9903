# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Pure logic behind edgeai.jetson_cluster.benchmark_aggregate.

The inference workload (roles/gpu_workloads/files/jc_infer.py) prints one JSON line per pod at
the end of its run, after any number of human log lines. These functions pull those lines out
of logs, check them, and sum one run (one Job or one set of containers) into the numbers the
benchmark report shows: makespan (the slowest pod), throughput, imbalance, and, given a
single-node baseline, speedup and parallel efficiency.

No AnsibleModule here: plugins/modules/benchmark_aggregate.py maps its options onto these
functions and turns BenchmarkError into fail_json; the unit tests call them directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import os

# Keys every per-pod result must carry; RESULT_KEYS marks a JSON log line as "meant to be a result".
REQUIRED_KEYS = ("index", "images", "seconds")
RESULT_KEYS = frozenset(REQUIRED_KEYS + ("total_jobs", "throughput", "warmup_seconds", "error"))


class BenchmarkError(Exception):
    """Bad benchmark input, with a message that names the pod or log it came from."""


# Counts above 2**53 are no count a pod reports (nor does a float hold them exactly); bounding
# them keeps the sums and quotients below finite instead of raising OverflowError.
MAX_COUNT = 2 ** 53


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_COUNT


def _is_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


def _value(value):
    """repr() of a value for a message, cut short (a log line can hold a 400-digit number)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def describe_pod(result, source=None):
    """A short name for a pod in error messages: 'pod index 2 (worker2, logs/2.log)'."""
    index = result.get("index") if isinstance(result, dict) else None
    label = "pod index %s" % index if index is not None else "pod with no index"
    where = []
    if isinstance(result, dict):
        for key in ("pod", "hostname"):
            if result.get(key):
                where.append(str(result[key]))
                break
    if source:
        where.append(str(source))
    return "%s (%s)" % (label, ", ".join(where)) if where else label


def parse_log(text, source="log"):
    """Return the workload result dicts found in one log text.

    A line is taken as a result when, stripped, it starts with '{' and parses as a JSON object
    that has at least one of RESULT_KEYS; other lines (progress, warnings, other programs' JSON)
    are skipped. A line that starts with '{' but is not valid JSON is an error, since the
    workload promised JSON there. A log without any result line is an error too: the pod
    crashed or printed nothing. Each returned dict gets "source" (where it came from) unless it
    already names one.
    """
    if not isinstance(text, str):
        raise BenchmarkError("%s: expected log text, got %s" % (source, type(text).__name__))
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise BenchmarkError(
                "%s line %d: a JSON result line is not valid JSON (%s): %.120s" % (source, number, exc, line))
        if not isinstance(data, dict) or not RESULT_KEYS.intersection(data):
            continue
        data.setdefault("source", "%s:%d" % (source, number))
        found.append(data)
    if not found:
        tail = [line for line in text.splitlines() if line.strip()][-3:]
        raise BenchmarkError(
            "%s: no workload result (a JSON line with index, images, seconds) in the log; last lines: %s"
            % (source, " | ".join(tail) if tail else "(empty log)"))
    return found


def read_src(path):
    """Results from a log file, or from every regular, non-hidden file of a directory (sorted)."""
    if os.path.isdir(path):
        names = sorted(name for name in os.listdir(path)
                       if not name.startswith(".") and os.path.isfile(os.path.join(path, name)))
        if not names:
            raise BenchmarkError("%s: the directory holds no log files" % path)
        files = [os.path.join(path, name) for name in names]
    elif os.path.isfile(path):
        files = [path]
    else:
        raise BenchmarkError("%s: no such file or directory" % path)
    results = []
    for name in files:
        try:
            with open(name, "rb") as handle:
                text = handle.read().decode("utf-8", "replace")
        except (IOError, OSError) as exc:
            raise BenchmarkError("%s: cannot read the log: %s" % (name, exc))
        results.extend(parse_log(text, source=name))
    return results


def normalize_result(result, source=None):
    """Check one per-pod result and return a copy with typed values.

    index, images and errors are non-negative integers, seconds and warmup_seconds
    non-negative finite numbers; a pod that reports time without images (or images in no
    time) is rejected, while 0 images in 0 seconds is an empty partition and allowed. A result
    with an "error" key is the workload reporting its own failure, and raises with that message.
    Other keys (hostname, device, precision, ...) are kept as they are.
    """
    if not isinstance(result, dict):
        raise BenchmarkError("%s: a result must be a mapping, got %s"
                             % (source or "result", type(result).__name__))
    source = source or result.get("source")
    name = describe_pod(result, source)
    if result.get("error"):
        # The workload's own failure report: {"error": "...", "index": i, "images": 0, ...}.
        raise BenchmarkError("%s: the workload failed: %s" % (name, result["error"]))
    missing = [key for key in REQUIRED_KEYS if key not in result]
    if missing:
        raise BenchmarkError("%s: missing key(s) %s in %s" % (name, ", ".join(missing), _short(result)))
    clean = dict(result)
    for key in ("index", "images", "errors", "total_jobs"):
        if key not in result or (key in ("errors", "total_jobs") and result[key] is None):
            continue
        value = result[key]
        if not _is_int(value) or value < 0:
            raise BenchmarkError("%s: %s must be a non-negative integer, got %s" % (name, key, _value(value)))
    for key in ("seconds", "warmup_seconds"):
        if key not in result or (key == "warmup_seconds" and result[key] is None):
            continue
        value = result[key]
        if not _is_number(value) or value < 0:
            raise BenchmarkError("%s: %s must be a non-negative number, got %s" % (name, key, _value(value)))
        clean[key] = float(value)
    clean["errors"] = result.get("errors") or 0
    if clean["images"] == 0 and clean["seconds"] > 0:
        raise BenchmarkError("%s: reports %.3f s for zero images" % (name, clean["seconds"]))
    if clean["images"] > 0 and clean["seconds"] == 0:
        raise BenchmarkError("%s: reports %d images in zero seconds" % (name, clean["images"]))
    if "total_jobs" in clean and clean["total_jobs"] is not None and clean["index"] >= clean["total_jobs"] > 0:
        raise BenchmarkError("%s: index %d is not below its total_jobs %d"
                             % (name, clean["index"], clean["total_jobs"]))
    clean["throughput"] = clean["images"] / clean["seconds"] if clean["seconds"] > 0 else 0.0
    if source:
        clean["source"] = source
    return clean


def _short(result):
    text = json.dumps(result, sort_keys=True, default=str)
    return text if len(text) <= 160 else text[:157] + "..."


def baseline_throughput(baseline):
    """Images per second of a baseline: {images, seconds}, a previous aggregate, or {throughput}."""
    if not isinstance(baseline, dict):
        raise BenchmarkError("baseline must be a mapping, got %s" % type(baseline).__name__)
    images = baseline.get("images")
    seconds = baseline.get("seconds", baseline.get("makespan_seconds"))
    if images is not None and seconds is not None:
        if not _is_number(images) or images <= 0:
            raise BenchmarkError("baseline: images must be a positive number, got %s" % _value(images))
        if not _is_number(seconds) or seconds <= 0:
            raise BenchmarkError("baseline: seconds must be a positive number, got %s" % _value(seconds))
        return float(images) / float(seconds)
    throughput = baseline.get("throughput")
    if throughput is not None:
        if not _is_number(throughput) or throughput <= 0:
            raise BenchmarkError("baseline: throughput must be a positive number, got %s" % _value(throughput))
        return float(throughput)
    raise BenchmarkError("baseline needs images and seconds (or makespan_seconds), or throughput; got keys: %s"
                         % (", ".join(sorted(baseline)) or "none"))


def check_unique_indices(pods):
    """Refuse a run in which a job index reported more than once.

    A retried pod, or the logs of two runs in one directory, give two results for one slice of
    the dataset: summing them would inflate images, throughput and speedup, and keeping either
    one would be a guess. The message names every result of each such index and where it came
    from, so that the stale log can be removed.
    """
    by_index = {}
    for pod in pods:
        by_index.setdefault(pod["index"], []).append(pod)
    twice = sorted(index for index, found in by_index.items() if len(found) > 1)
    if not twice:
        return
    if len(twice) == 1:
        head = "job index %d reported %d times" % (twice[0], len(by_index[twice[0]]))
    else:
        head = "job indices %s reported more than once (%s)" % (
            ", ".join(str(index) for index in twice),
            ", ".join("%d: %d times" % (index, len(by_index[index])) for index in twice))
    raise BenchmarkError(
        "%s: %s. Summing them would inflate the images, throughput and speedup (a retried pod, or "
        "logs of two runs mixed?); remove the stale results and aggregate again"
        % (head, "; ".join(describe_pod(pod, pod.get("source")) for index in twice for pod in by_index[index])))


def aggregate(results, expected_jobs=None, baseline=None):
    """Sum the per-pod results of one run.

    ``results``: list of per-pod dicts (see normalize_result) or log texts (see parse_log).
    ``expected_jobs``: how many indices the run should have (0..expected_jobs-1); without it,
    the pods' own total_jobs (or the highest index + 1) decides what counts as missing.
    ``baseline``: see baseline_throughput; adds speedup and efficiency.
    A job index reported more than once is an error (see check_unique_indices), so
    ``duplicate_indices`` in the summary is always empty; it stays for callers that check it.
    """
    if not isinstance(results, list):
        raise BenchmarkError("results must be a list, got %s" % type(results).__name__)
    pods = []
    for position, item in enumerate(results):
        if isinstance(item, str):
            pods.extend(normalize_result(r) for r in parse_log(item, source="results[%d]" % position))
        else:
            pods.append(normalize_result(item))
    if not pods:
        raise BenchmarkError("no results to aggregate")
    if expected_jobs is not None and (not _is_int(expected_jobs) or expected_jobs < 1):
        raise BenchmarkError("expected_jobs must be a positive integer, got %s" % _value(expected_jobs))

    reported_totals = sorted(set(p["total_jobs"] for p in pods if p.get("total_jobs") is not None))
    if len(reported_totals) > 1:
        raise BenchmarkError("pods disagree on total_jobs (%s): are logs of several runs mixed? %s"
                             % (", ".join(str(t) for t in reported_totals),
                                "; ".join(describe_pod(p, p.get("source")) for p in pods)))
    if expected_jobs is not None and reported_totals and reported_totals[0] != expected_jobs:
        raise BenchmarkError("%s reports total_jobs=%d but expected_jobs is %d"
                             % (describe_pod(pods[0], pods[0].get("source")), reported_totals[0], expected_jobs))
    jobs = expected_jobs or (reported_totals[0] if reported_totals else max(p["index"] for p in pods) + 1)

    pods.sort(key=lambda p: (p["index"], str(p.get("source", ""))))
    seen = {}
    for pod in pods:
        seen[pod["index"]] = seen.get(pod["index"], 0) + 1
    for pod in pods:
        if pod["index"] >= jobs:
            raise BenchmarkError("%s is outside 0..%d for %d jobs"
                                 % (describe_pod(pod, pod.get("source")), jobs - 1, jobs))
    check_unique_indices(pods)

    images = sum(p["images"] for p in pods)
    makespan = max(p["seconds"] for p in pods)
    if images == 0 or makespan == 0:
        raise BenchmarkError("no pod processed any image (%d pods): nothing to measure" % len(pods))
    timed = [p["seconds"] for p in pods if p["images"] > 0]
    summary = {
        "pods": len(seen),
        "expected_jobs": jobs,
        "images": images,
        "errors": sum(p["errors"] for p in pods),
        "makespan_seconds": makespan,
        "fastest_seconds": min(timed),
        "throughput": images / makespan,
        "imbalance": makespan / min(timed),
        "per_pod": pods,
        "missing_indices": [index for index in range(jobs) if index not in seen],
        "duplicate_indices": sorted(index for index, count in seen.items() if count > 1),
    }
    warmups = [p["warmup_seconds"] for p in pods if p.get("warmup_seconds") is not None]
    if warmups:
        summary["max_warmup_seconds"] = max(warmups)
    if baseline is not None:
        reference = baseline_throughput(baseline)
        summary["baseline_throughput"] = reference
        summary["speedup"] = summary["throughput"] / reference
        if not math.isfinite(summary["speedup"]):
            raise BenchmarkError("baseline throughput %s img/s is too small to compare with %s img/s"
                                 % (_value(reference), _value(summary["throughput"])))
        summary["efficiency"] = summary["speedup"] / summary["pods"]
    return summary


def aggregate_runs(runs):
    """Aggregate every run of a benchmark at once, each against its workload's baseline.

    ``runs``: the runs in the order they ran, each a mapping with ``workload`` (a name),
    ``jobs`` (its job count) and either ``src`` (a log file or directory, see read_src) or
    ``results`` (see aggregate); other keys (``logs``, ...) are passed through. The first run
    of each workload is that workload's baseline: the others are compared with it, and it with
    itself (speedup 1.0). A run with a missing job index fails, naming the run: its numbers
    would cover part of the dataset only.
    Returns a list of {workload, jobs, <passed-through keys>, aggregate}, in the input's order.
    """
    if not isinstance(runs, list) or not runs:
        raise BenchmarkError("runs must be a non-empty list of {workload, jobs, src or results}")
    baselines = {}
    out = []
    for position, run in enumerate(runs):
        if not isinstance(run, dict):
            raise BenchmarkError("runs[%d] must be a mapping, got %s" % (position, type(run).__name__))
        workload, jobs = run.get("workload"), run.get("jobs")
        if not isinstance(workload, str) or not workload or not _is_int(jobs) or jobs < 1:
            raise BenchmarkError("runs[%d] needs a workload name and a job count >= 1, got workload=%r jobs=%r"
                                 % (position, workload, jobs))
        name = "%s x%d" % (workload, jobs)
        if ("src" in run) == ("results" in run):
            raise BenchmarkError("%s: give exactly one of src and results" % name)
        try:
            results = read_src(run["src"]) if "src" in run else run["results"]
            summary = aggregate(results, expected_jobs=jobs)
            if summary["missing_indices"]:
                raise BenchmarkError("no result from job index(es) %s"
                                     % ", ".join(str(i) for i in summary["missing_indices"]))
            baseline = baselines.setdefault(workload, summary)
            summary = aggregate(results, expected_jobs=jobs, baseline=baseline)
        except BenchmarkError as exc:
            raise BenchmarkError("%s%s: %s" % (name, " (%s)" % run["src"] if "src" in run else "", exc))
        entry = dict((key, value) for key, value in run.items() if key not in ("src", "results"))
        entry["aggregate"] = summary
        out.append(entry)
    return out
