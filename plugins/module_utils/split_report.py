# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Workload III's ResNet-50 split in the benchmark report: read what ``python3 -m jc_pipeline
split-pull`` printed (one JSON report per stream, jc_pipeline/split_stage.py ``pull``) and what
jc_infer printed for the data-parallel baseline on the same nodes (one JSON result per process),
check them, and turn them into the report's rows: per stage compute and transfer per image, bytes
per image at each cut, img/s (median, min-max of the streams) beside the data-parallel img/s.

Every number that reaches the report is checked first: a line that is not a report, a missing or
non-numeric field, a negative or non-finite time, a depth that does not match the stages or cut
sizes is a SplitReportError naming the source and line; nothing is guessed or filled in.

No AnsibleModule here: roles/gpu_workloads/files/jc_report.py and the unit tests call this.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math

FAILED = "pipeline failed:"


class SplitReportError(ValueError):
    """Output that cannot be reported; the message names the source, the line and why."""


def _number(data, field, where, positive=False):
    value = data.get(field) if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SplitReportError("%s: %r is %r, not a number" % (where, field, value))
    value = float(value)
    if math.isnan(value) or math.isinf(value) or value < 0 or (positive and value == 0):
        raise SplitReportError("%s: %r is %r, not a %s finite number" % (
            where, field, value, "positive" if positive else "non-negative"))
    return value


def _count(data, field, where):
    value = data.get(field) if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SplitReportError("%s: %r is %r, not a whole number >= 1" % (where, field, value))
    return value


def _json_lines(text, source):
    """(line number, object) for every line that starts with '{'; a failure line is an error."""
    found = []
    for number, line in enumerate(str(text if text is not None else "").splitlines(), 1):
        line = line.strip()
        if FAILED in line:
            raise SplitReportError("%s line %d: the chain failed: %s" % (source, number, line[:300]))
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise SplitReportError("%s line %d: not JSON (%s)" % (source, number, exc))
        if not isinstance(data, dict):
            raise SplitReportError("%s line %d: not a JSON object" % (source, number))
        found.append((number, data))
    return found


def parse_split_pull(text, source="split-pull output"):
    """The checked split-pull reports in ``text`` (other, non-JSON lines are skipped), in order.

    Each: {depth, batch, images, fps, bound_fps, cut_bytes_per_image, stages: [{stage, blocks,
    compute_ms, transfer_ms, recv_ms, send_ms, cpu_ms (the stage process's CPU; None when the line has
    none), bytes_per_image}]}, times per image. At least one."""
    reports = []
    for number, data in _json_lines(text, source):
        where = "%s line %d" % (source, number)
        if data.get("kind") != "resnet_split":
            raise SplitReportError("%s: kind is %r, not 'resnet_split' (a split-pull report)" % (where, data.get("kind")))
        batch, images, depth = _count(data, "batch", where), _count(data, "images", where), _count(data, "depth", where)
        stages = data.get("stages")
        if not isinstance(stages, list) or len(stages) != depth:
            raise SplitReportError("%s: depth %d but %s stage summaries" % (
                where, depth, len(stages) if isinstance(stages, list) else "no"))
        cuts = data.get("cut_bytes_per_image")
        if not isinstance(cuts, list) or len(cuts) != depth - 1:
            raise SplitReportError("%s: %d stages need %d cut sizes, got %r" % (where, depth, depth - 1, cuts))
        cut_bytes = [_number({"cut": c}, "cut", where, positive=True) for c in cuts]
        rows = []
        for index, summary in enumerate(stages):
            at = "%s stage %d" % (where, index)
            if not isinstance(summary, dict) or not isinstance(summary.get("stage"), str) or not summary["stage"]:
                raise SplitReportError("%s: no stage name" % at)
            blocks = summary.get("blocks", [])
            if not isinstance(blocks, list) or not all(isinstance(b, str) for b in blocks):
                raise SplitReportError("%s: blocks is %r, not a list of block names" % (at, blocks))
            per = _count(summary, "batch", at)
            if per != batch:
                raise SplitReportError("%s: batch %d, the chain's is %d" % (at, per, batch))
            recv, send = _number(summary, "median_recv", at), _number(summary, "median_send", at)
            cpu = _number(summary, "median_cpu", at) if summary.get("median_cpu") is not None else None
            rows.append({"stage": summary["stage"], "blocks": list(blocks),
                         "cpu_ms": 1000.0 * cpu / batch if cpu is not None else None,
                         "compute_ms": 1000.0 * _number(summary, "median_compute", at) / batch,
                         "recv_ms": 1000.0 * recv / batch, "send_ms": 1000.0 * send / batch,
                         "transfer_ms": 1000.0 * (recv + send) / batch,
                         "bytes_per_image": _number(summary, "bytes_per_image", at, positive=True)})
        bound, bound_cpu = data.get("bound_fps"), data.get("bound_cpu_fps")
        reports.append({"depth": depth, "batch": batch, "images": images, "key": data.get("key"),
                        "fps": _number(data, "fps", where, positive=True),
                        "bound_fps": _number(data, "bound_fps", where) if bound is not None else None,
                        "bound_cpu_fps": _number(data, "bound_cpu_fps", where) if bound_cpu is not None else None,
                        "cut_bytes_per_image": cut_bytes, "stages": rows})
    if not reports:
        raise SplitReportError("no split-pull report in %s" % source)
    return reports


def parse_infer_runs(text, source="jc_infer output"):
    """The data-parallel runs in jc_infer's result lines: one run is TOTAL_JOBS consecutive results
    with the indexes 0..TOTAL_JOBS-1 (any order); its img/s is the sum of their throughputs.
    Returns [{"containers": n, "fps": sum, "per_container": [...]}], at least one."""
    runs, current, total = [], {}, None
    for number, data in _json_lines(text, source):
        where = "%s line %d" % (source, number)
        jobs, index = _count(data, "total_jobs", where), data.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < jobs:
            raise SplitReportError("%s: index %r is not 0..%d" % (where, index, jobs - 1))
        if _number(data, "errors", where) > 0:
            raise SplitReportError("%s: jc_infer reported %d errors" % (where, data["errors"]))
        if total is not None and jobs != total:
            raise SplitReportError("%s: TOTAL_JOBS %d before run %d's %d results were all there"
                                   % (where, jobs, len(runs), total))
        if index in current:
            raise SplitReportError("%s: index %d twice in one run" % (where, index))
        total, current[index] = jobs, _number(data, "throughput", where, positive=True)
        if len(current) == jobs:
            per = [current[i] for i in range(jobs)]
            runs.append({"containers": jobs, "fps": sum(per), "per_container": per})
            current, total = {}, None
    if current:
        raise SplitReportError("%s: the last run has %d of %d results" % (source, len(current), total))
    if not runs:
        raise SplitReportError("no jc_infer result in %s" % source)
    return runs


def _median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def summarise(reports):
    """One row per depth: fps median/min/max over the streams, n, and the per-stage numbers of the
    stream whose fps is the median (the lower middle one for an even count)."""
    by_depth = {}
    for report in reports:
        by_depth.setdefault(report["depth"], []).append(report)
    rows = []
    for depth in sorted(by_depth):
        group = sorted(by_depth[depth], key=lambda r: r["fps"])
        middle = group[(len(group) - 1) // 2]
        rows.append({"depth": depth, "n": len(group), "fps": _median([r["fps"] for r in group]),
                     "fps_min": group[0]["fps"], "fps_max": group[-1]["fps"], "bound_fps": middle["bound_fps"],
                     "bound_cpu_fps": middle["bound_cpu_fps"],
                     "batch": middle["batch"], "images": middle["images"], "stages": middle["stages"],
                     "cut_bytes_per_image": middle["cut_bytes_per_image"]})
    return rows


def summarise_infer(runs):
    """One row per container count: fps median/min/max over the runs, n."""
    by_count = {}
    for run in runs:
        by_count.setdefault(run["containers"], []).append(run["fps"])
    return [{"containers": n, "n": len(v), "fps": _median(v), "fps_min": min(v), "fps_max": max(v)}
            for n, v in sorted(by_count.items())]


def _fps(row):
    return "%.3f (%.3f–%.3f, n=%d)" % (row["fps"], row["fps_min"], row["fps_max"], row["n"])


def markdown(split_rows, infer_rows=()):
    """The report's tables: the split by depth beside the data-parallel runs, then every stage."""
    lines = ["| program | containers | img/s median (min–max, n) | × data-parallel on as many containers "
             "| stage bound img/s (wall / CPU) |", "|---|---:|---:|---:|---:|"]
    infer = dict((r["containers"], r) for r in infer_rows)
    for row in infer_rows:
        lines.append("| data-parallel (jc_infer) | %d | %s | | |" % (row["containers"], _fps(row)))
    for row in split_rows:
        same = infer.get(row["depth"])
        lines.append("| split, %d stage%s | %d | %s | %s | %s |" % (
            row["depth"], "s" if row["depth"] > 1 else "", row["depth"], _fps(row),
            "%.2f×" % (row["fps"] / same["fps"]) if same else "-",
            " / ".join("%.3f" % b if b is not None else "-" for b in (row["bound_fps"], row["bound_cpu_fps"]))))
    lines.extend(["", "| stages | stage | compute ms/img | transfer ms/img (recv + send) | process CPU ms/img "
                  "| bytes/img sent on |", "|---:|---|---:|---:|---:|---:|"])
    for row in split_rows:
        for stage in row["stages"]:
            lines.append("| %d | %s | %.1f | %.2f (%.2f + %.2f) | %s | %d |" % (
                row["depth"], stage["stage"], stage["compute_ms"], stage["transfer_ms"], stage["recv_ms"],
                stage["send_ms"], "%.1f" % stage["cpu_ms"] if stage["cpu_ms"] is not None else "-",
                int(round(stage["bytes_per_image"]))))
    return "\n".join(lines) + "\n"
