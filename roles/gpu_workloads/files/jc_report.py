#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Turn a benchmark's results.json into report.md and benchmark.png.

    jc_report.py REPORT_DIR/results.json --out REPORT_DIR

results.json is written by the gpu_workloads role (tasks/benchmark.yml):
    {"version": 1, "created", "runner", "image", "image_id", "workers", "settings",
     "host_sharing": {"workers": [...], "probes": [[kernel boot ID, CPUs, cgroup cpu.max], ...],
                      "controller_boot_id"},
     "runs": [{"workload", "jobs", "logs", "aggregate": <benchmark_aggregate result>}, ...]}
(runs as edgeai.jetson_cluster.benchmark_aggregate returns them with its runs option).
The first run of each workload is its baseline. report.md has one table per workload (nodes,
images, makespan, throughput, speedup, efficiency, imbalance, errors) and the per-pod rows;
benchmark.png shows throughput and speedup against the number of nodes, and every pod's
timed window as a bar. When workers report the same kernel boot ID (containers of one machine,
as in the lab) the report says that they share that machine's CPUs, and what the numbers then
do and do not show. With "telemetry" in results.json (the nodes' traces the benchmark recorded)
report.md gets a "Node telemetry" section and telemetry.png (per node GPU utilisation, clock,
temperature and power over time against each pod's warm-up and timed window), and throttled nodes
are flagged by name. With workload III's placement matrix beside results.json (pipeline/plan.json
and the containers' logs, role pipeline_workload) report.md gets its section and pipeline.png.
Runs on the controller; needs matplotlib. Prints one JSON line
{"changed": bool, "files": [...], "summary": one line for the console, "throttled": [nodes]} and
exits 0, or 2 on bad input.
"""

from __future__ import division, print_function

import argparse
import functools
import importlib
import io
import json
import os
import sys

TITLES = {
    "synthetic": "Workload I: synthetic tensors",
    "files": "Workload II: JPEG files",
}
REPORT_NAME = "report.md"
PLOT_NAME = "benchmark.png"
TELEMETRY_PLOT_NAME = "telemetry.png"


class ReportError(Exception):
    """results.json is missing, unreadable or not what the role writes."""


def load_results(path, allow_no_runs=False):
    try:
        with io.open(path, encoding="utf-8") as handle:
            results = json.load(handle)
    except (IOError, OSError) as exc:
        raise ReportError("cannot read %s: %s" % (path, exc))
    except ValueError as exc:
        raise ReportError("%s is not valid JSON: %s" % (path, exc))
    if not isinstance(results, dict) or results.get("version") != 1:
        raise ReportError("%s is not a version 1 benchmark result" % path)
    runs = results.get("runs")
    if not isinstance(runs, list) or not (runs or allow_no_runs):
        raise ReportError("%s holds no runs" % path)
    for position, run in enumerate(runs):
        for key in ("workload", "jobs", "aggregate"):
            if key not in run:
                raise ReportError("%s: run %d lacks %r" % (path, position, key))
    return results


def workloads(results):
    """Workload names in the order they were first run."""
    seen = []
    for run in results["runs"]:
        if run["workload"] not in seen:
            seen.append(run["workload"])
    return seen


def runs_of(results, workload):
    return [run for run in results["runs"] if run["workload"] == workload]


def summary_row(run):
    """One table row: the numbers of one run."""
    agg = run["aggregate"]
    return {
        "nodes": agg.get("pods", run["jobs"]),
        "jobs": run["jobs"],
        "images": agg["images"],
        "makespan": agg["makespan_seconds"],
        "throughput": agg["throughput"],
        "speedup": agg.get("speedup"),
        "efficiency": agg.get("efficiency"),
        "imbalance": agg.get("imbalance"),
        "errors": agg.get("errors", 0),
    }


def pod_rows(run):
    rows = []
    for pod in run["aggregate"].get("per_pod", []):
        rows.append({
            "jobs": run["jobs"],
            "index": pod["index"],
            "host": pod.get("hostname", ""),
            "images": pod["images"],
            "errors": pod.get("errors", 0),
            "seconds": pod["seconds"],
            "throughput": pod.get("throughput", 0.0),
            "warmup": pod.get("warmup_seconds"),
            "device": pod.get("device", ""),
        })
    return rows


def _cpu_quota(text):
    """CPUs a cgroup may use from cpu.max ("max 100000", "150000 100000") or cgroup v1's
    cfs_quota_us ("-1", "200000", period 100000 assumed); None when unlimited or unknown."""
    parts = str(text or "").split()
    try:
        if len(parts) == 2 and parts[0] != "max":
            return int(parts[0]) / float(int(parts[1]))
        if len(parts) == 1 and int(parts[0]) > 0:
            return int(parts[0]) / 100000.0
    except ValueError:
        pass
    return None


def host_sharing(results):
    """Which workers share a machine: {"groups": [[worker, ...] per kernel boot ID shared by more
    than one worker], "cpus": {worker: CPUs seen}, "quota": {worker: CPU quota or None},
    "with_controller": bool, "known": bool (every worker answered)}."""
    data = results.get("host_sharing") or {}
    workers = data.get("workers") or []
    probes = data.get("probes") or []
    by_boot, cpus, quota = {}, {}, {}
    known = bool(workers) and len(probes) == len(workers)
    for worker, probe in zip(workers, probes):
        probe = [str(line).strip() for line in (probe or [])]
        if len(probe) < 2 or len(probe[0]) < 8:
            known = False
            continue
        by_boot.setdefault(probe[0], []).append(worker)
        try:
            cpus[worker] = int(probe[1])
        except ValueError:
            pass
        quota[worker] = _cpu_quota(probe[2]) if len(probe) > 2 else None
    groups = [sorted(names) for names in by_boot.values() if len(names) > 1]
    controller = str(data.get("controller_boot_id") or "").strip()
    return {"groups": groups, "cpus": cpus, "quota": quota, "known": known,
            "with_controller": bool(controller) and controller in by_boot}


def host_sharing_lines(results):
    """The report's paragraph on where the workers ran (nothing when the role could not tell)."""
    sharing = host_sharing(results)
    if not sharing["groups"]:
        if sharing["known"]:
            return ["- Workers: separate machines (each reports its own kernel boot ID); CPUs: %s."
                    % ", ".join("%s %d" % item for item in sorted(sharing["cpus"].items()))]
        return []
    lines = ["", "## The workers share one machine's CPUs", ""]
    for group in sharing["groups"]:
        cpus = sorted(set(sharing["cpus"].get(worker) for worker in group if worker in sharing["cpus"]))
        quotas = sorted(set(sharing["quota"].get(worker) for worker in group))
        if quotas == [None]:
            limit = "no CPU quota (each may use every core)"
        else:
            limit = "a cgroup CPU quota of %s CPUs" % "/".join("%g" % q if q else "no" for q in quotas)
        lines.append("**%s run on one kernel** (the same kernel boot ID: containers or VMs of one host%s), "
                     "which shows %s CPU(s) to each, with %s." % (
                         ", ".join(group), ", the controller's too" if sharing["with_controller"] else "",
                         "/".join(str(c) for c in cpus) or "?", limit))
    lines.extend([
        "",
        "An N-way run then divides the same cores among N pods: throughput cannot grow with the number "
        "of nodes, and a speedup near 1.0 (or a little below: N processes load torch and the model, and "
        "compete for memory bandwidth) is what this setup allows, not a fault of the workload or of "
        "the partitioning.",
        "",
        "- What the numbers show: every job index ran and reported once, each pod processed its share "
        "(images, errors, per-pod rows), corrupt images were counted, and how evenly the work was split "
        "(imbalance); the whole path from image build to report works.",
        "- What they do not show: how the cluster scales. Speedup and efficiency measure scaling only "
        "when each worker has CPUs (and a GPU) of its own: run the benchmark on the boards for that.",
    ])
    return lines


def summary_line(results):
    """One line for the end of the playbook: each run's throughput and speedup, and a warning when
    the workers share a machine's CPUs."""
    parts = []
    for workload in workloads(results):
        runs = ["x%d %s img/s%s" % (run["jobs"], _num(run["aggregate"]["throughput"], 1),
                                    "" if run["aggregate"].get("speedup") is None or index == 0 else
                                    " (speedup %s)" % _num(run["aggregate"]["speedup"], 2))
                for index, run in enumerate(runs_of(results, workload))]
        parts.append("%s %s" % (workload, ", ".join(runs)))
    text = "; ".join(parts)
    if host_sharing(results)["groups"]:
        text += (". The workers share one machine's CPUs, so the speedup does not measure scaling"
                 " (see the report)")
    return text


def _num(value, digits):
    if value is None:
        return "-"
    return "%.*f" % (digits, value)


def _table(header, align, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def render_markdown(results):
    """The whole report.md as text."""
    image_id = results.get("image_id") or ""
    lines = [
        "# Inference benchmark",
        "",
        "- Created: %s" % results.get("created", "?"),
        "- Runner: %s; workers: %s" % (results.get("runner", "?"), ", ".join(results.get("workers", [])) or "-"),
        "- Image: %s%s" % (results.get("image", "?"), " (%s)" % image_id[:19] if image_id else ""),
    ]
    settings = results.get("settings") or {}
    if settings:
        lines.append("- Settings: " + ", ".join("%s=%s" % item for item in sorted(settings.items())))
    lines.append("- Throughput = images / makespan (the slowest pod's timed window); speedup against the "
                 "first row; efficiency = speedup / nodes; imbalance = slowest / fastest pod.")
    lines.extend(host_sharing_lines(results))
    for workload in workloads(results):
        runs = runs_of(results, workload)
        lines.extend(["", "## %s" % TITLES.get(workload, workload), ""])
        rows = []
        for run in runs:
            row = summary_row(run)
            rows.append([str(row["nodes"]), str(row["images"]), _num(row["makespan"], 2),
                         _num(row["throughput"], 1), _num(row["speedup"], 2), _num(row["efficiency"], 2),
                         _num(row["imbalance"], 2), str(row["errors"])])
        lines.extend(_table(["nodes", "images", "makespan (s)", "throughput (img/s)", "speedup", "efficiency",
                             "imbalance", "errors"], ["---:"] * 8, rows))
        lines.extend(["", "Per pod:", ""])
        rows = []
        for run in runs:
            for pod in pod_rows(run):
                rows.append([str(pod["jobs"]), str(pod["index"]), pod["host"] or "-", str(pod["images"]),
                             str(pod["errors"]), _num(pod["seconds"], 2), _num(pod["throughput"], 1),
                             _num(pod["warmup"], 2), pod["device"] or "-"])
        lines.extend(_table(["nodes", "index", "host", "images", "errors", "seconds", "img/s", "warm-up (s)",
                             "device"], ["---:", "---:", "---", "---:", "---:", "---:", "---:", "---:", "---"], rows))
    if results["runs"]:
        lines.extend(time_to_result_lines(results))
        lines.extend(["", "![throughput, speedup, per-pod phases and time to result](%s)" % PLOT_NAME, ""])
    else:
        lines.extend(["", "Workloads I and II were not run this time (playbooks/benchmark.yml --tags pipeline).", ""])
    return "\n".join(lines)


def plot_series(results):
    """What the plot draws, per workload: nodes -> throughput/speedup, and one bar per pod."""
    series = {}
    for workload in workloads(results):
        runs = sorted(runs_of(results, workload), key=lambda run: summary_row(run)["nodes"])
        rows = [summary_row(run) for run in runs]
        bars = []
        for run in runs:
            for pod in pod_rows(run):
                bars.append(("%d:#%d" % (pod["jobs"], pod["index"]), pod["seconds"]))
        series[workload] = {
            "nodes": [row["nodes"] for row in rows],
            "throughput": [row["throughput"] for row in rows],
            "speedup": [row["speedup"] if row["speedup"] is not None else 1.0 for row in rows],
            "ideal": [row["nodes"] / rows[0]["nodes"] for row in rows],
            "bars": bars,
        }
    return series


def draw(results, path):
    """Write the PNG: one row per workload, scaling on the left and per-pod times on the right."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = plot_series(results)
    names = list(series)
    figure, axes = plt.subplots(len(names), 3, figsize=(16, 3.6 * len(names)), squeeze=False)
    phases = time_to_result_series(results)
    for row, workload in enumerate(names):
        data = series[workload]
        left, right, third = axes[row]
        left.plot(data["nodes"], data["throughput"], "o-", color="tab:blue", label="throughput")
        left.set_xlabel("nodes")
        left.set_ylabel("images / s", color="tab:blue")
        left.set_xticks(data["nodes"])
        # Headroom above the highest point keeps the markers clear of the frame and the legend.
        left.set_ylim(0, max(data["throughput"]) * 1.3)
        left.set_title(TITLES.get(workload, workload))
        twin = left.twinx()
        twin.plot(data["nodes"], data["speedup"], "s--", color="tab:orange", label="speedup")
        twin.plot(data["nodes"], data["ideal"], ":", color="grey", label="ideal speedup")
        twin.set_ylabel("speedup", color="tab:orange")
        twin.set_ylim(0, max(data["speedup"] + data["ideal"]) * 1.3)
        handles = left.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        left.legend(handles, [h.get_label() for h in handles], loc="lower right", fontsize="small")
        draw_pod_phases(right, phases[workload])
        draw_time_to_result(third, phases[workload])
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return write_if_changed(path, buffer.getvalue())


# ---------------------------------------------------------------------------------------------
# Node telemetry: what every node's GPU did during the runs (tasks/telemetry_*.yml record it),
# each pod's warm-up and timed window on it, and throttling flagged by node.
# results.json: "telemetry": {"interval": s, "nodes": {node: "telemetry/<node>.jsonl", ...}}, paths
# relative to results.json; each pod's result carries "node" and "timeline" (jc_infer/metrics.py).
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _module_utils(name):
    """plugins/module_utils/<name>.py: imported from the installed collection, else loaded by its
    path in this checkout; once per name (telemetry, pipeline_matrix, split_report)."""
    try:
        return importlib.import_module("ansible_collections.edgeai.jetson_cluster.plugins.module_utils." + name)
    except ImportError:
        return _collection_module("plugins", "module_utils", name + ".py")


def _collection_module(*parts):
    """A module of this collection by its path in it (roles/gpu_workloads/files is three levels down)."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", *parts)
    spec = importlib.util.spec_from_file_location("jc_" + os.path.splitext(parts[-1])[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module




def load_telemetry(results, base_dir):
    """{node: samples} of every recorded node, and a list of problems (a missing or unreadable trace
    is said in the report, it does not stop it)."""
    telemetry = _module_utils("telemetry")
    traces, problems = {}, []
    for node, relative in sorted(((results.get("telemetry") or {}).get("nodes") or {}).items()):
        path = os.path.join(base_dir, relative)
        try:
            with io.open(path, encoding="utf-8") as handle:
                samples = telemetry.load_trace(handle.read(), path)
        except (IOError, OSError) as exc:
            problems.append("%s: no telemetry (%s)" % (node, exc))
            continue
        except telemetry.TelemetryError as exc:
            problems.append("%s: unreadable telemetry (%s)" % (node, exc))
            continue
        if not samples:
            problems.append("%s: the telemetry trace is empty" % node)
            continue
        try:  # a trace that loads but cannot be analysed is said, not drawn
            telemetry.throttle_findings(samples, node=node)
            telemetry.trace_series(samples)
        except telemetry.TelemetryError as exc:
            problems.append("%s: unusable telemetry (%s)" % (node, exc))
            continue
        traces[node] = samples
    return traces, problems


def _pod_node(pod, nodes):
    """The node a pod ran on: its "node" (NODE_NAME), else the node its hostname starts with."""
    if pod.get("node") in nodes:
        return pod["node"]
    host = pod.get("hostname") or ""
    for node in sorted(nodes, key=len, reverse=True):
        if host == node or host.startswith(node + "-"):
            return node
    return None


def pod_windows(results, nodes):
    """Each pod's phases on its node's clock: [{"node", "label", "started", "warmup_start",
    "window_start", "window_end"}]; pods without a timeline (older images) are left out."""
    windows = []
    for run in results["runs"]:
        for pod in run["aggregate"].get("per_pod", []):
            line = pod.get("timeline")
            node = _pod_node(pod, nodes)
            if not isinstance(line, dict) or node is None:
                continue
            try:
                warmup_start = float(line["warmup_start"])
                windows.append({
                    "node": node, "label": "%s x%d #%d" % (run["workload"], run["jobs"], pod["index"]),
                    "started": warmup_start - float(pod.get("startup_seconds") or 0.0),
                    "warmup_start": warmup_start, "window_start": float(line["window_start"]),
                    "window_end": float(line["window_end"])})
            except (KeyError, TypeError, ValueError):
                continue
    return windows


def telemetry_findings(traces):
    """Throttling by node, judged as the alert rules judge it (telemetry.throttle_findings)."""
    telemetry = _module_utils("telemetry")
    findings = []
    for node, samples in sorted(traces.items()):
        findings.extend(telemetry.throttle_findings(samples, node=node))
    return findings


KIND_TITLES = {"throttle_reason": "throttle reason", "clock_drop": "clock drop under load",
               "temperature": "over the temperature limit"}


def telemetry_lines(results, traces, problems, findings):
    """The report's "Node telemetry" section (nothing when the benchmark recorded none)."""
    if not (results.get("telemetry") or {}).get("nodes"):
        return []
    lines = ["", "## Node telemetry", ""]
    throttled = sorted(set(found["node"] for found in findings))
    if throttled:
        lines.append("**THROTTLED: %s.** The numbers of the runs on %s are not what the hardware can do "
                     "unthrottled." % (", ".join(throttled), "this node" if len(throttled) == 1 else "these nodes"))
        lines.append("")
        start = min(samples[0]["time"] for samples in traces.values())
        rows = [[found["node"], KIND_TITLES.get(found["kind"], found["kind"]), found["detail"],
                 "%.0f-%.0f" % (found["first"] - start, found["last"] - start), str(found["samples"])]
                for found in findings]
        lines.extend(_table(["node", "what", "worst", "when (s)", "samples"], ["---", "---", "---", "---:", "---:"],
                            rows))
    elif traces:
        lines.append("No throttling seen on %s: no active throttle reason, no GPU clock drop under load, no "
                     "sensor over its limit." % ", ".join(sorted(traces)))
    for problem in problems:
        lines.append("- %s" % problem)
    if traces:
        lines.extend(["", "Per node over time (GPU utilisation, clock, hottest sensor, input power, CPU, RAM; each pod's "
                      "warm-up shaded light, its timed window dark):", "",
                      "![node telemetry](%s)" % TELEMETRY_PLOT_NAME])
    return lines


def draw_telemetry(traces, windows, findings, path):
    """Write telemetry.png: one row per node, six panels against seconds since the first sample."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    telemetry = _module_utils("telemetry")
    nodes = sorted(traces)
    start = min(samples[0]["time"] for samples in traces.values())
    panels = (("gpu_utilization_percent", "GPU busy (%)"), ("gpu_clock_mhz", "GPU clock (MHz)"),
              ("temperature_c", "hottest sensor (°C)"), ("power_w", "input power (W)"),
              ("cpu_busy_percent", "CPU busy (%, mean of cores)"), ("ram_used_mib", "RAM in use (MiB)"))
    figure, axes = plt.subplots(len(nodes), len(panels), figsize=(21, 2.8 * len(nodes)), squeeze=False)
    throttled = set(found["node"] for found in findings)
    for row, node in enumerate(nodes):
        series = telemetry.trace_series(traces[node])
        seconds = [t - start for t in series["time"]]
        for column, (key, title) in enumerate(panels):
            axis = axes[row][column]
            points = [(x, y) for x, y in zip(seconds, series[key]) if y is not None]
            if points:
                axis.plot([x for x, _ in points], [y for _, y in points], "-", color="tab:blue", linewidth=1)
            else:
                axis.text(0.5, 0.5, "not reported", ha="center", va="center", transform=axis.transAxes)
            for window in windows:
                if window["node"] == node:
                    axis.axvspan(window["warmup_start"] - start, window["window_start"] - start, color="tab:orange",
                                 alpha=0.15, linewidth=0)
                    axis.axvspan(window["window_start"] - start, window["window_end"] - start, color="tab:green",
                                 alpha=0.25, linewidth=0)
                    axis.axvline(window["started"] - start, color="grey", linewidth=0.5, linestyle=":")
            if key == "temperature_c":
                axis.axhline(telemetry.TEMPERATURE_LIMIT_C, color="tab:red", linewidth=0.8, linestyle="--")
            axis.set_title("%s%s: %s" % (node, " (THROTTLED)" if node in throttled else "", title),
                           fontsize="small", color="tab:red" if node in throttled else "black")
            axis.set_xlabel("seconds")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    plt.close(figure)
    return write_if_changed(path, buffer.getvalue())


def telemetry_summary(findings):
    """For the console line: which nodes throttled."""
    nodes = sorted(set(found["node"] for found in findings))
    return ". THROTTLED: %s (see the report's node telemetry)" % ", ".join(nodes) if nodes else ""


def write_if_changed(path, data):
    """Write bytes atomically unless the file already holds them; return True when written."""
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    except (IOError, OSError):
        pass
    temporary = path + ".tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.rename(temporary, path)
    return True


# ---------------------------------------------------------------------------------------------
# Time to result (issue 15): where each pod's time went before its result line (jc_infer's
# startup_seconds, warmup_seconds, seconds and fixed.other), and the job's time to result: the
# slowest pod from its process's start to its result line, against the number of nodes. Pods of
# older images report only the timed window (and warm-up): their start-up is then unknown.
# ---------------------------------------------------------------------------------------------

PHASES = (("startup", "start-up", "tab:gray"), ("warmup", "warm-up", "tab:orange"),
          ("window", "timed window", "tab:green"), ("other", "rest to the result line", "tab:purple"))


def pod_phases(pod):
    """{"startup", "warmup", "window", "other", "to_result"} of one per-pod result, in seconds;
    None for what the pod did not report. to_result = the process's age at its result line."""
    def number(key, source=pod):
        value = source.get(key) if isinstance(source, dict) else None
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    fixed = pod.get("fixed") if isinstance(pod.get("fixed"), dict) else {}
    return {"startup": number("startup_seconds"), "warmup": number("warmup_seconds"), "window": number("seconds"),
            "other": number("other", fixed), "to_result": number("process_seconds")}


def time_to_result_series(results):
    """Per workload: "pods" [(label, phases)] and "jobs" [(nodes, slowest pod's to_result or None)],
    sorted by nodes."""
    series = {}
    for workload in workloads(results):
        runs = sorted(runs_of(results, workload), key=lambda run: summary_row(run)["nodes"])
        pods, jobs = [], []
        for run in runs:
            nodes = summary_row(run)["nodes"]
            ages = []
            for pod in run["aggregate"].get("per_pod", []):
                phases = pod_phases(pod)
                pods.append(("%d:#%d" % (run["jobs"], pod["index"]), phases))
                ages.append(phases["to_result"])
            jobs.append((nodes, max(ages) if ages and None not in ages else None))
        series[workload] = {"pods": pods, "jobs": jobs}
    return series


def time_to_result_lines(results):
    """Markdown: per workload, the job's time to result for each node count (and against the first)."""
    series = time_to_result_series(results)
    if not any(t is not None for data in series.values() for _, t in data["jobs"]):
        return ["", "Time to result: not reported by these pods (an image older than process_seconds)."]
    lines = ["", "## Time to result", "",
             "The job's time to result = the slowest pod from its process's start to its result line "
             "(start-up + warm-up + timed window + the rest; the pod's exit after the line and the time "
             "Kubernetes takes to start it are not in it). Per-pod phases: the middle plot.", ""]
    rows = []
    for workload, data in series.items():
        first = data["jobs"][0][1] if data["jobs"] else None
        for nodes, seconds in data["jobs"]:
            gain = first / seconds if first and seconds else None
            rows.append([TITLES.get(workload, workload), str(nodes), _num(seconds, 2), _num(gain, 2)])
    lines.extend(_table(["workload", "nodes", "time to result (s)", "against the first row"],
                        ["---", "---:", "---:", "---:"], rows))
    return lines


def draw_pod_phases(axis, data):
    """One stacked bar per pod: start-up, warm-up, timed window, rest (what it reported)."""
    labels = [label for label, _ in data["pods"]]
    bottoms = [0.0] * len(labels)
    for key, name, color in PHASES:
        heights = [phases[key] or 0.0 for _, phases in data["pods"]]
        if any(heights):
            axis.bar(range(len(labels)), heights, bottom=bottoms, color=color, label=name)
            bottoms = [b + h for b, h in zip(bottoms, heights)]
    axis.set_xticks(range(len(labels)))
    axis.set_xticklabels(labels, rotation=45 if len(labels) > 8 else 0, fontsize="small")
    axis.set_xlabel("nodes:#job index")
    axis.set_ylabel("seconds")
    axis.set_title("per pod: start-up, warm-up, timed window")
    axis.legend(loc="upper right", fontsize="x-small")


def draw_time_to_result(axis, data):
    """The job's time to result against the number of nodes (nothing drawn when not reported)."""
    points = [(nodes, seconds) for nodes, seconds in data["jobs"] if seconds is not None]
    axis.set_xlabel("nodes")
    axis.set_ylabel("seconds")
    axis.set_title("job: time to result (slowest pod)")
    if not points:
        axis.text(0.5, 0.5, "not reported by these pods", ha="center", va="center", transform=axis.transAxes)
        return
    axis.plot([n for n, _ in points], [t for _, t in points], "o-", color="tab:red")
    axis.set_xticks(sorted(set(n for n, _ in points)))
    axis.set_ylim(0, max(t for _, t in points) * 1.2)


# ---------------------------------------------------------------------------------------------
# Workload III (role pipeline_workload, tasks/docker_matrix.yml): <report>/pipeline/ holds plan.json
# (the chains, their hosts and image counts, the hosts' kernel boot IDs) and what each container
# printed: chain-<placement>.log (the sink's JSON reports) and monolith-<S|E>.log. The rows, the
# plot data and the plot itself come from module_utils/pipeline_matrix.py and
# benchmarks/pipeline_plots.py, the same code as the stand-alone benchmarks.
# ---------------------------------------------------------------------------------------------

PIPELINE_DIR = "pipeline"
PIPELINE_PLOT_NAME = "pipeline.png"




def load_pipeline(base_dir):
    """The matrix in base_dir/pipeline as {"plan", "runs", "rows", "by_size"}, or None when the run
    made none. A plan whose logs or reports are missing or bad is a ReportError naming the file."""
    folder = os.path.join(base_dir, PIPELINE_DIR)
    plan_path = os.path.join(folder, "plan.json")
    if not os.path.isfile(plan_path):
        return None
    matrix = _module_utils("pipeline_matrix")
    try:
        with io.open(plan_path, encoding="utf-8") as handle:
            plan = json.load(handle)
        runs = []
        for entry in plan["plan"]["monoliths"]:
            path = os.path.join(folder, "monolith-%s.log" % entry["node"])
            for report in matrix.reports_in(_read(path), path):
                runs.append(matrix.run_from_report(report, node=entry["node"], host=entry["host"]))
        for chain in plan["plan"]["chains"]:
            path = os.path.join(folder, "chain-%s.log" % chain["placement"])
            for report in matrix.reports_in(_read(path), path):
                runs.append(matrix.run_from_report(report, depth=chain["depth"], placement=chain["placement"],
                                                   hosts=chain["hosts"]))
        rows = matrix.aggregate(runs)
        by_size = matrix.by_size(rows)
    except (ValueError, KeyError, TypeError) as exc:  # PipelineMatrixError is a ValueError
        raise ReportError("workload III's matrix in %s: %s" % (folder, exc))
    return {"plan": plan, "runs": runs, "rows": rows, "by_size": by_size}


def _read(path):
    try:
        with io.open(path, encoding="utf-8") as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        raise ValueError("cannot read %s: %s" % (path, exc))


def pipeline_sharing(pipeline):
    """host_sharing's answer for the matrix's hosts (the same rule as for the workers)."""
    return host_sharing({"host_sharing": pipeline["plan"].get("host_sharing") or {}})


def shared_cpu_count(sharing):
    """The CPUs the matrix's hosts share (the fewest any of them shows), or None when they do not
    share a machine or did not say."""
    if not sharing["groups"] or not sharing["cpus"]:
        return None
    return min(sharing["cpus"].values())


def shared_cpu_bound(depth, cpus, ccr_cpu):
    """The best a chain of ``depth`` stages can do against the monolith on ``cpus`` shared cores when
    every image costs it (1 + CPU CCR) times the monolith's CPU: min(depth, cpus) / (1 + ccr_cpu)."""
    if not cpus or ccr_cpu is None:
        return None
    return min(depth, cpus) / (1.0 + ccr_cpu)


def pipeline_lines(pipeline):
    """The report's Workload III section."""
    matrix = _module_utils("pipeline_matrix")
    plan, rows = pipeline["plan"], pipeline["rows"]
    try:
        seconds = float(plan.get("seconds"))
    except (TypeError, ValueError):
        seconds = None
    lines = ["", "## Workload III: the pipelined gRPC chain (placement matrix)", "",
             "producer → convolution → ReLU → maxpool as a chain of gRPC services, each stage a container on its "
             "host's Docker (one CPU each), stage i pulling from stage i - 1 across the LAN; against the same maths "
             "in one process (the monolith). S = %s (server-class), E = %s (edge); placement letter i says where "
             "stage i ran. Image %s, %d repeat(s) per run%s." % (
                 ", ".join(plan.get("server_hosts") or []) or "-", ", ".join(plan.get("edge_hosts") or []) or "-",
                 plan.get("image", "?"), plan.get("repeats", 1),
                 "; the matrix took %.0f s in all (image builds and container starts included)" % seconds
                 if seconds is not None else ""), ""]
    sharing = pipeline_sharing(pipeline)
    shared_cpus = shared_cpu_count(sharing)
    if sharing["groups"]:
        cpus = sorted(set(sharing["cpus"].values()))
        lines.extend([
            "**The matrix's hosts share one machine's CPUs**: %s run on one kernel (the same kernel boot ID), "
            "which shows %s CPU(s). Every stage, the sink and the monolith then compete for those cores: a "
            "chain of d stages can at best reach min(d, %s)× the monolith's rate, whatever the placement, and "
            "the S and E letters name containers of one machine, not a fast and a slow node. Transfers between "
            "\"hosts\" cross virtual bridges of one kernel, not a real link. So the tables show that every "
            "placement runs, reports and how the chain's time splits into communication and computation on "
            "this machine; they do not show what pipelining across real boards gains. The chain also spends CPU "
            "on gRPC (receiving, framing, sending: the CPU CCR), which the monolith does not: with c shared "
            "cores a chain can at best make min(d, c) / (1 + CPU CCR) times the monolith's rate (the last "
            "column of the table by size), and the machine's other work lowers that further." % (
                ", ".join(sorted(set(sum(sharing["groups"], [])))), "/".join(str(c) for c in cpus) or "?",
                "/".join(str(c) for c in cpus) or "the number of cores"), ""])
    elif sharing["known"]:
        lines.extend(["Hosts: separate machines (each reports its own kernel boot ID).", ""])
    lines.extend(["Every run against the monolith on its first stage's kind of node "
                  "(communication and computation: per image, the stages' medians):", ""])
    lines.append(matrix.markdown(rows).rstrip("\n"))
    lines.extend(["", "By image size (the all-S placement of each depth; latency = communication + computation "
                  "per image, without queueing):", ""])
    table = []
    for size, entry in pipeline["by_size"].items():
        for key in sorted(k for k in entry if k.startswith("depth")):
            item = entry[key]
            table.append([size, key[5:], item["placement"], _num(1000 * item["communication"], 2)
                          if item["communication"] is not None else "-",
                          _num(1000 * item["computation"], 2) if item["computation"] is not None else "-",
                          _num(item["ccr"], 2), _num(item["fps"], 1), _num(entry["monolith"]["fps"], 1),
                          _num(item["speedup"], 2)]
                         + ([_num(shared_cpu_bound(int(key[5:]), shared_cpus, item["ccr_cpu_throughput"]), 2)]
                            if shared_cpus else []))
    lines.extend(_table(["size", "stages", "placement", "communication ms", "computation ms", "CCR", "fps",
                         "monolith fps", "× monolith"] + (["shared-CPU bound ×"] if shared_cpus else []),
                        ["---", "---:", "---", "---:", "---:", "---:", "---:", "---:", "---:"]
                        + (["---:"] if shared_cpus else []), table))
    lines.extend(["", "![workload III: latency and CCR by size, throughput by stages and by placement](%s)"
                  % PIPELINE_PLOT_NAME, ""])
    return lines


# Workload III's ResNet-50 split (jc_pipeline split-stage / split-pull): <report>/split/ holds what
# split-pull printed (split-pull*.log, one JSON report per stream), optionally what the data-parallel
# jc_infer containers printed on the same nodes (dataparallel*.log, one JSON result per container)
# and meta.json ({"machine_cpus", "container_cpus", "where"}). Parsed and checked by
# plugins/module_utils/split_report.py.

SPLIT_DIR = "split"




def load_split(base_dir):
    """The split's rows in base_dir/split as {"rows", "infer_rows", "meta"}, or None when the run made
    none. Bad or missing output is a ReportError naming the file and line."""
    folder = os.path.join(base_dir, SPLIT_DIR)
    if not os.path.isdir(folder):
        return None
    module = _module_utils("split_report")
    names = sorted(os.listdir(folder))
    pulls = [n for n in names if n.startswith("split-pull") and n.endswith(".log")]
    infers = [n for n in names if n.startswith("dataparallel") and n.endswith(".log")]
    try:
        if not pulls:
            raise ValueError("no split-pull*.log")
        reports, runs = [], []
        for name in pulls:
            path = os.path.join(folder, name)
            reports.extend(module.parse_split_pull(_read(path), path))
        for name in infers:
            path = os.path.join(folder, name)
            runs.extend(module.parse_infer_runs(_read(path), path))
        meta = {}
        if os.path.isfile(os.path.join(folder, "meta.json")):
            meta = json.loads(_read(os.path.join(folder, "meta.json")))
            if not isinstance(meta, dict):
                raise ValueError("meta.json is not a JSON object")
    except ValueError as exc:  # SplitReportError is a ValueError
        raise ReportError("workload III's split in %s: %s" % (folder, exc))
    return {"rows": module.summarise(reports), "infer_rows": module.summarise_infer(runs) if runs else [],
            "meta": meta}


def split_lines(split, heading):
    """The split's part of the Workload III section (with its own "## Workload III" heading when
    the placement matrix did not run)."""
    module = _module_utils("split_report")
    meta = split["meta"]
    lines = ([""] + (["## Workload III: the pipelined gRPC chain", ""] if heading else [])
             + ["### ResNet-50 split by layers, beside data parallelism", "",
                "torchvision's ResNet-50 cut at block boundaries, each stage a gRPC service pulling float16 "
                "activations from the one before (jc_pipeline split-stage; img/s at the sink, split-pull, "
                "between the first and the last batch's arrival), beside the data-parallel program (jc_infer, "
                "the Indexed Job's) on as many containers%s. Compute and transfer are per image, the stage's "
                "median batch divided by the batch; the stage bound is the batch over the slowest stage's "
                "median service time (wall) or process CPU time (CPU: the rate with a core per stage); \"bytes/img sent on\" is what crosses the cut after the "
                "stage (float16 activations; the last stage's float32 logits); process CPU is the stage "
                "process's CPU per image (its blocks and gRPC's threads), which other work on the same cores "
                "does not inflate the way it inflates wall-clock times." % (
                    " (%s)" % meta["where"] if meta.get("where") else ""), ""]
             + module.markdown(split["rows"], split["infer_rows"]).rstrip("\n").split("\n"))
    machine, each = meta.get("machine_cpus"), meta.get("container_cpus")
    if isinstance(machine, (int, float)) and isinstance(each, (int, float)) and not isinstance(machine, bool):
        crowded = [r["depth"] for r in split["rows"] if r["depth"] * each > machine]
        lines.extend(["", "Every container had %s CPU(s) (docker --cpus) on one machine of %s: %s" % (
            _num(each, 1), machine,
            "the %s-stage split%s asked for more CPUs than the machine has, so its stages took turns on the "
            "cores, and no row can show more than the machine's %s cores' worth of work." % (
                "/".join(str(d) for d in crowded), "s" if len(crowded) > 1 else "", machine)
            if crowded else "the rows compare equal CPU shares, not separate boards or a real link.")])
    if not split["infer_rows"]:
        lines.extend(["", "No data-parallel run on the same nodes was recorded: the split is shown alone."])
    lines.append("")
    return lines


def draw_pipeline(pipeline, path):
    """pipeline.png through benchmarks/pipeline_plots.write (its panels by size and by placement)."""
    plots = _collection_module("benchmarks", "pipeline_plots.py")
    sharing = pipeline_sharing(pipeline)
    data = {"sizes": pipeline["by_size"], "latency": ("latency", "ms per image (communication + computation)")}
    title = "Workload III placement matrix: S = %s, E = %s%s" % (
        ", ".join(pipeline["plan"].get("server_hosts") or []), ", ".join(pipeline["plan"].get("edge_hosts") or []),
        " (one machine's CPUs shared: see the report)" if sharing["groups"] else "")
    temporary = path + ".new.png"
    plots.write(data, temporary, placements=pipeline["rows"], title=title)
    with open(temporary, "rb") as handle:
        data = handle.read()
    os.remove(temporary)
    return write_if_changed(path, data)


def pipeline_summary(pipeline):
    """For the console line: the matrix's best chain at the largest size against the monolith."""
    rows = pipeline["rows"]
    last = rows[-1]["size"]
    best = max((r for r in rows if r["size"] == last), key=lambda r: r["speedup"])
    return "pipeline matrix: %d runs, best at %s %s %.1f fps (%.2fx the monolith)%s" % (
        len(pipeline["runs"]), last, best["placement"], best["fps"], best["speedup"],
        ", hosts share one machine's CPUs" if pipeline_sharing(pipeline)["groups"] else "")


def split_summary(split):
    """For the console line: the split's img/s per depth beside jc_infer on as many containers."""
    infer = dict((r["containers"], r) for r in split["infer_rows"])
    return "ResNet-50 split: " + ", ".join(
        "%d stage%s %.2f img/s%s" % (row["depth"], "s" if row["depth"] > 1 else "", row["fps"], " (%.2fx data-parallel on %d)" % (
            row["fps"] / infer[row["depth"]]["fps"], row["depth"]) if row["depth"] in infer else "")
        for row in split["rows"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="results.json written by the gpu_workloads role")
    parser.add_argument("--out", required=True, help="directory for report.md and benchmark.png")
    args = parser.parse_args(argv)
    try:
        base_dir = os.path.dirname(os.path.abspath(args.results))
        pipeline = load_pipeline(base_dir)
        split = load_split(base_dir)
        results = load_results(args.results, allow_no_runs=pipeline is not None or split is not None)
        if not os.path.isdir(args.out):
            raise ReportError("output directory %s does not exist" % args.out)
        report = os.path.join(args.out, REPORT_NAME)
        plot = os.path.join(args.out, PLOT_NAME)
        traces, problems = load_telemetry(results, base_dir)
        findings = telemetry_findings(traces)
        markdown = render_markdown(results) + "\n".join(
            telemetry_lines(results, traces, problems, findings) + (pipeline_lines(pipeline) if pipeline else [])
            + (split_lines(split, heading=not pipeline) if split else []) + [""])
        changed = write_if_changed(report, markdown.encode("utf-8"))
        files = [report]
        if results["runs"]:
            changed = draw(results, plot) or changed
            files.append(plot)
        if traces:
            files.append(os.path.join(args.out, TELEMETRY_PLOT_NAME))
            changed = draw_telemetry(traces, pod_windows(results, traces), findings, files[-1]) or changed
        if pipeline:
            files.append(os.path.join(args.out, PIPELINE_PLOT_NAME))
            changed = draw_pipeline(pipeline, files[-1]) or changed
    except ReportError as exc:
        print(json.dumps({"changed": False, "error": str(exc)}))
        return 2
    summary = "; ".join(part for part in (summary_line(results), pipeline_summary(pipeline) if pipeline else "",
                                          split_summary(split) if split else "") if part)
    print(json.dumps({"changed": changed, "files": files, "summary": summary + telemetry_summary(findings),
                      "throttled": sorted(set(found["node"] for found in findings))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
