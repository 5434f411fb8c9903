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
do and do not show. Runs on the controller; needs matplotlib. Prints one JSON line
{"changed": bool, "files": [...], "summary": one line for the console} and exits 0, or 2 on
bad input.
"""

from __future__ import division, print_function

import argparse
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


class ReportError(Exception):
    """results.json is missing, unreadable or not what the role writes."""


def load_results(path):
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
    if not isinstance(runs, list) or not runs:
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
    lines.extend(["", "![throughput, speedup and per-pod times](%s)" % PLOT_NAME, ""])
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
    figure, axes = plt.subplots(len(names), 2, figsize=(11, 3.6 * len(names)), squeeze=False)
    for row, workload in enumerate(names):
        data = series[workload]
        left, right = axes[row]
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
        labels = [label for label, _ in data["bars"]]
        right.bar(range(len(labels)), [seconds for _, seconds in data["bars"]], color="tab:green")
        right.set_xticks(range(len(labels)))
        right.set_xticklabels(labels, rotation=45 if len(labels) > 8 else 0, fontsize="small")
        right.set_xlabel("nodes:#job index")
        right.set_ylabel("timed window (s)")
        right.set_title("per-pod time")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return write_if_changed(path, buffer.getvalue())


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="results.json written by the gpu_workloads role")
    parser.add_argument("--out", required=True, help="directory for report.md and benchmark.png")
    args = parser.parse_args(argv)
    try:
        results = load_results(args.results)
        if not os.path.isdir(args.out):
            raise ReportError("output directory %s does not exist" % args.out)
        report = os.path.join(args.out, REPORT_NAME)
        plot = os.path.join(args.out, PLOT_NAME)
        changed = write_if_changed(report, render_markdown(results).encode("utf-8"))
        changed = draw(results, plot) or changed
    except ReportError as exc:
        print(json.dumps({"changed": False, "error": str(exc)}))
        return 2
    print(json.dumps({"changed": changed, "files": [report, plot], "summary": summary_line(results)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
