# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Workload III's measurement matrix: which runs, where each stage runs, and the table of results.

The reference experiment's placements are SSSS, ESSS, EESS, EEES, EEEE: letter i says where
stage i runs (S: the server-class node, E: an edge node) and the first stage is on the edge
whenever any is, so a placement of depth d is E * k + S * (d - k), k = 0..d. Merged depths
(3 and 2 stages, jc_pipeline/ops.py PLANS) get the same family (SSS ... EEE, SS ... EE).

``expand`` lists the runs (depth, placement, size) of a matrix; ``assign_hosts`` turns a
placement into one host per stage for a runner that starts stages on named hosts (the Docker
runner: S on the server-class host, the E stages on the edge hosts in turn, so consecutive E
stages land on different boards when there are enough); on Kubernetes the same letters become
node selectors (pipeline_placement.pipeline_stages). ``aggregate`` turns the runs' sink reports
into one row per (size, depth, placement) with the median fps of its repeats beside the monolith
on the first stage's kind of node, which is what the reference compared (the server's monolith
with SSSS, the edge's with EEEE). ``run_from_report`` turns a jc_pipeline report into such a run,
``reports_in`` finds the reports in a container's output, ``by_size`` gives the rows the shape of
benchmarks/pipeline_plots.py's panels by image size. ``split_docker_plan`` places the ResNet-50
split's stages and the data-parallel containers beside it on named hosts (the Docker runner).

No AnsibleModule here: benchmarks/pipeline_matrix.py, the role and the unit tests call this.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

DEPTHS = (2, 3, 4)
SIZES = ("128x128", "256x256", "512x512", "1024x1024", "1280x720")
_SIZE = re.compile(r"^([1-9][0-9]*)x([1-9][0-9]*)$")


class PipelineMatrixError(ValueError):
    """A matrix, placement or result set that cannot be used; the message says why."""


def placements_for(depth):
    """SSSS, ESSS, EESS, EEES, EEEE for depth 4 (edge stages first)."""
    if depth not in DEPTHS:
        raise PipelineMatrixError("depth %r is not one of %s" % (depth, list(DEPTHS)))
    return ["E" * edge + "S" * (depth - edge) for edge in range(depth + 1)]


def _check_size(size):
    if not isinstance(size, str) or not _SIZE.match(size):
        raise PipelineMatrixError("image size %r is not <width>x<height>" % (size,))
    return size


def images_per_run(size, pixels_per_run, least, most):
    """How many images of `size` one timed run streams: about `pixels_per_run` pixels, so that
    every size takes a similar time, kept within [least, most]."""
    width, height = (int(v) for v in _check_size(size).split("x"))
    return max(least, min(most, pixels_per_run // (width * height)))


def expand(depths=DEPTHS, sizes=SIZES, placements=None):
    """Every run of the matrix: dicts depth, placement, size, in that nesting order.

    ``placements``: None for every placement of each depth, else a list of placement strings
    (each used with the depth of its length)."""
    if placements is None:
        chosen = [(depth, p) for depth in depths for p in placements_for(depth)]
    else:
        chosen = []
        for placement in placements:
            if not isinstance(placement, str) or not placement or set(placement) - set("SE"):
                raise PipelineMatrixError("placement %r is not a string of S and E" % (placement,))
            if len(placement) not in DEPTHS:
                raise PipelineMatrixError("placement %r has %d stages, not one of %s"
                                          % (placement, len(placement), list(DEPTHS)))
            chosen.append((len(placement), placement))
    if not chosen:
        raise PipelineMatrixError("the matrix has no placements")
    return [{"depth": depth, "placement": placement, "size": _check_size(size)}
            for depth, placement in chosen for size in sizes]


def assign_hosts(placement, server_hosts, edge_hosts):
    """One host per stage: S stages on the server-class host(s), E stages on the edge hosts
    in turn (stage order), both round robin."""
    pools = {"S": list(server_hosts or []), "E": list(edge_hosts or [])}
    used = {"S": 0, "E": 0}
    hosts = []
    for index, letter in enumerate(placement):
        if letter not in pools:
            raise PipelineMatrixError("stage %d: placement letter %r is not S or E" % (index, letter))
        if not pools[letter]:
            raise PipelineMatrixError("placement %s needs %s hosts and none are given"
                                      % (placement, "server-class" if letter == "S" else "edge"))
        hosts.append(pools[letter][used[letter] % len(pools[letter])])
        used[letter] += 1
    return hosts


def docker_plan(runs, server_hosts, edge_hosts, addresses, port, images):
    """What a Docker runner across hosts does for ``runs`` (expand's list), chain by chain.

    ``addresses``: {host: address the other hosts reach it at}; ``port``: stage i of a chain
    listens on port + i (on the host's network: two stages on one host need two ports);
    ``images``: {size: images per run}. Returns {"chains": [{"depth", "placement", "hosts",
    "stages": [{"index", "host", "listen", "upstream"}], "sink_host" (the last stage's host),
    "address" (what the sink pulls from), "sizes": [{"size", "datacount"}]}, ...],
    "monoliths": [{"node": "S"/"E", "host", "sizes": [...]}]}, the monolith on the first host of each
    kind a chain starts on."""
    chains, starts = [], []
    for run in runs:
        key = (run["depth"], run["placement"])
        chain = next((c for c in chains if (c["depth"], c["placement"]) == key), None)
        if chain is None:
            hosts = assign_hosts(run["placement"], server_hosts, edge_hosts)
            stages = []
            for index, host in enumerate(hosts):
                if host not in addresses:
                    raise PipelineMatrixError("host %s has no address for the other stages to reach it" % host)
                stages.append({"index": index, "host": host, "listen": "0.0.0.0:%d" % (int(port) + index),
                               "upstream": "%s:%d" % (addresses[hosts[index - 1]], int(port) + index - 1)
                               if index else ""})
            chain = {"depth": run["depth"], "placement": run["placement"], "hosts": hosts, "stages": stages,
                     "sink_host": hosts[-1],
                     "address": "%s:%d" % (addresses[hosts[-1]], int(port) + len(hosts) - 1), "sizes": []}
            chains.append(chain)
            if run["placement"][0] not in starts:
                starts.append(run["placement"][0])
        if run["size"] not in [entry["size"] for entry in chain["sizes"]]:
            if run["size"] not in images:
                raise PipelineMatrixError("no image count for size %s" % run["size"])
            chain["sizes"].append({"size": run["size"], "datacount": int(images[run["size"]])})
    sizes = []
    for chain in chains:
        sizes.extend(entry for entry in chain["sizes"] if entry not in sizes)
    monoliths = [{"node": node, "host": (server_hosts if node == "S" else edge_hosts)[0], "sizes": sizes}
                 for node in sorted(starts, reverse=True)]
    return {"chains": chains, "monoliths": monoliths}


def split_docker_plan(hosts, addresses, port, cuts, images, batch):
    """What the Docker runner does for the ResNet-50 split (jc_pipeline split-stage) across
    ``hosts`` (chain order): stage i on hosts[i], listening on ``port`` + i on the host's network,
    pulling float16 activations from stage i - 1 at that host's address; the network cut after the
    blocks ``cuts`` (one fewer than hosts; the stages check the names); the sink (split-pull) on
    the last stage's host; and the data-parallel line beside it: jc_infer index i on hosts[i]
    (TOTAL_JOBS = len(hosts)), ``images`` images each, as every stream of the split carries.

    Returns {"depth", "hosts", "cuts", "images", "batch", "stages": [{"index", "host", "listen",
    "upstream"}], "sink_host", "address", "dataparallel": [{"index", "host"}]}."""
    hosts = list(hosts or [])
    if len(hosts) < 2 or not all(isinstance(h, str) and h for h in hosts):
        raise PipelineMatrixError("the split needs at least 2 hosts (one per stage), got %r" % (hosts,))
    if len(set(hosts)) != len(hosts):
        raise PipelineMatrixError("the split's hosts %s name one host twice: one stage per node" % hosts)
    cuts = list(cuts or [])
    if len(cuts) != len(hosts) - 1 or not all(isinstance(c, str) and c for c in cuts):
        raise PipelineMatrixError("%d stages need %d cuts (block names), got %r" % (len(hosts), len(hosts) - 1, cuts))
    for name, value in (("port", port), ("images", images), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PipelineMatrixError("%s is %r, not a whole number >= 1" % (name, value))
    if port + len(hosts) - 1 > 65535:
        raise PipelineMatrixError("ports %d..%d do not exist" % (port, port + len(hosts) - 1))
    if images < 2 * batch:
        raise PipelineMatrixError("%d images in batches of %d is one batch: img/s is measured between the first "
                                  "and the last batch, so a stream needs at least 2" % (images, batch))
    missing = [h for h in hosts if not addresses.get(h)]
    if missing:
        raise PipelineMatrixError("host %s has no address for the other stages to reach it" % missing[0])
    stages = [{"index": index, "host": host, "listen": "0.0.0.0:%d" % (port + index),
               "upstream": "%s:%d" % (addresses[hosts[index - 1]], port + index - 1) if index else ""}
              for index, host in enumerate(hosts)]
    return {"depth": len(hosts), "hosts": hosts, "cuts": cuts, "images": images, "batch": batch, "stages": stages,
            "sink_host": hosts[-1], "address": "%s:%d" % (addresses[hosts[-1]], port + len(hosts) - 1),
            "dataparallel": [{"index": index, "host": host} for index, host in enumerate(hosts)]}


def _median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2.0


def aggregate(runs):
    """Rows from measured runs.

    ``runs``: dicts with kind ("pipeline" or "monolith"), size, fps, and for a pipeline run
    depth, placement, hosts, ccr, ccr_cpu, latency_median, bound_cpu_fps; for a monolith run
    ``node`` ("S" or "E"). Returns the rows sorted by size, depth, placement: size, depth,
    placement, hosts, repeats, fps (median), fps_runs, monolith_node, monolith_fps (median),
    monolith_computation, speedup, ccr, ccr_cpu, latency_median, bound_cpu_fps, communication,
    computation (medians; None where the runs lack them). A placement without a
    monolith of its first stage's kind for its size is an error (nothing to compare with)."""
    monoliths, groups, computations = {}, {}, {}
    for position, run in enumerate(runs):
        if not isinstance(run, dict) or run.get("kind") not in ("pipeline", "monolith"):
            raise PipelineMatrixError("run %d is not a pipeline or monolith result: %r" % (position, run))
        fps = run.get("fps")
        if not isinstance(fps, (int, float)) or not fps > 0:
            raise PipelineMatrixError("run %d has no positive fps: %r" % (position, fps))
        size = _check_size(run.get("size"))
        if run["kind"] == "monolith":
            if run.get("node") not in ("S", "E"):
                raise PipelineMatrixError("monolith run %d: node must be S or E, not %r" % (position, run.get("node")))
            monoliths.setdefault((size, run["node"]), []).append(float(fps))
            if isinstance(run.get("computation"), (int, float)):
                computations.setdefault((size, run["node"]), []).append(float(run["computation"]))
        else:
            key = (size, run.get("depth"), run.get("placement"))
            if len(str(key[2] or "")) != key[1]:
                raise PipelineMatrixError("run %d: placement %r does not have depth %r" % (position, key[2], key[1]))
            groups.setdefault(key, []).append(run)
    rows = []
    for (size, depth, placement), group in groups.items():
        node = placement[0]
        if (size, node) not in monoliths:
            raise PipelineMatrixError("no monolith run on an %s node at %s to compare %s with" % (node, size, placement))
        mono = _median(monoliths[(size, node)])
        fps = _median([r["fps"] for r in group])
        row = {"size": size, "depth": depth, "placement": placement, "hosts": group[-1].get("hosts"),
               "repeats": len(group), "fps": fps, "fps_runs": [r["fps"] for r in group],
               "monolith_node": node, "monolith_fps": mono, "speedup": fps / mono,
               "monolith_computation": _median(computations[(size, node)]) if (size, node) in computations else None}
        for field in ("ccr", "ccr_cpu", "latency_median", "bound_cpu_fps", "communication", "computation"):
            values = [r[field] for r in group if isinstance(r.get(field), (int, float))]
            row[field] = _median(values) if values else None
        rows.append(row)

    def pixels(size):
        width, height = (int(v) for v in size.split("x"))
        return width * height
    rows.sort(key=lambda r: (pixels(r["size"]), r["depth"], r["placement"].count("S"), r["placement"]))
    return rows


RUN_FIELDS = ("fps", "ccr", "ccr_cpu", "latency_median", "bound_cpu_fps")


def run_from_report(report, **meta):
    """One run (aggregate's input) from a jc_pipeline report: a sink's (``pull``: kind
    "pipeline", pass depth, placement, hosts) or a monolith's (pass node "S" or "E"). The size is
    the report's key without its options; per-image communication and computation are the
    report's medians (metrics.chain_report), the monolith's computation its median compute."""
    if not isinstance(report, dict) or report.get("kind") not in ("pipeline", "monolith"):
        raise PipelineMatrixError("not a jc_pipeline sink or monolith report: %r" % (report,))
    run = {"kind": report["kind"], "size": _check_size(str(report.get("key", "")).split(",")[0])}
    for field in RUN_FIELDS:
        run[field] = report.get(field)
    run["communication"] = report.get("communication_median") if report["kind"] == "pipeline" else 0.0
    run["computation"] = report.get("computation_median")
    if report["kind"] == "pipeline":
        run["stages"] = report.get("stages")
    run.update(meta)
    return run


def reports_in(text, where="the output"):
    """The JSON report lines (objects with a "kind") in a container's output, in order; other
    lines (logs) are skipped. No report at all is an error that quotes the output's end."""
    found = []
    for line in str(text or "").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "kind" in data:
            found.append(data)
    if not found:
        raise PipelineMatrixError("no jc_pipeline report in %s; it ends: %s"
                                  % (where, " | ".join(str(text or "").splitlines()[-5:]) or "(nothing)"))
    return found


def by_size(rows):
    """The rows as benchmarks/pipeline_plots.py's panels by size read them (pipeline_bench.py's
    "sizes" shape): {size: {"monolith": {fps, latency}, "depth<d>": {...}}}, one entry per depth
    from its all-server placement (S...S, else the first placement measured at that depth), so
    that depths are compared on one kind of node. ``latency``: per image, communication +
    computation (the stages' medians, no queueing), the monolith's its computation."""
    sizes = {}
    for row in rows:
        entry = sizes.setdefault(row["size"], {})
        if "monolith" not in entry or row["placement"] == "S" * row["depth"]:
            entry["monolith"] = {"fps": row["monolith_fps"], "latency": row.get("monolith_computation"),
                                 "node": row["monolith_node"]}
        key = "depth%d" % row["depth"]
        if key in entry and row["placement"] != "S" * row["depth"]:
            continue
        comm, comp = row.get("communication"), row.get("computation")
        entry[key] = {"placement": row["placement"], "fps": row["fps"], "speedup": row["speedup"],
                      "communication": comm, "computation": comp,
                      "latency": comm + comp if comm is not None and comp is not None else None,
                      "ccr": row.get("ccr"), "ccr_cpu_throughput": row.get("ccr_cpu"),
                      "bound_cpu_fps_throughput": row.get("bound_cpu_fps")}
    depths = set(k for entry in sizes.values() for k in entry if k.startswith("depth"))
    for size, entry in sizes.items():
        if set(k for k in entry if k.startswith("depth")) != depths:
            raise PipelineMatrixError("size %s was not measured at every depth (%s)" % (size, sorted(depths)))
    return sizes


def markdown(rows):
    """The rows as a Markdown table (docs/benchmarks.md, the lab report)."""
    lines = ["| size | depth | placement | hosts | fps (median of n) | monolith fps (node) | x monolith | CCR wall / CPU "
             "| latency ms |", "|---|---:|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append("| %s | %d | %s | %s | %.1f (%d) | %.1f (%s) | %.2fx | %s / %s | %s |" % (
            r["size"], r["depth"], r["placement"], ",".join(r["hosts"] or []), r["fps"], r["repeats"],
            r["monolith_fps"], r["monolith_node"], r["speedup"],
            "%.2f" % r["ccr"] if r["ccr"] is not None else "-", "%.2f" % r["ccr_cpu"] if r["ccr_cpu"] is not None else "-",
            "%.2f" % (1000 * r["latency_median"]) if r["latency_median"] is not None else "-"))
    return "\n".join(lines) + "\n"
