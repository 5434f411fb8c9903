#!/usr/bin/env python3
"""Workload III's plots (the jc_pipeline gRPC chain), drawn from pipeline_bench.py's JSON.

    python benchmarks/pipeline_plots.py [RESULTS.json ...]   (default: the newest
        benchmarks/results/pipeline_*/pipeline.json) -> docs/pipeline.png

benchmarks/report.py calls ``write`` after its own plot; each panel is its own function so the
other report panels (start-up, telemetry) are not touched:
- ``latency_by_size``: per-image latency (paced runs) against image size, the monolith and every
  depth, with the chain's communication (Σ recv + send, wall) drawn beside its computation;
- ``ccr_by_size``: CCR against image size per depth, from the wall-clock fields and from the
  stages' process CPU (metrics.ccr), with 1 marked;
- ``fps_by_depth``: throughput per depth against the monolith at each size, with the bound
  (1 / the busiest stage's process CPU per image where measured, else the paced bound);
- ``fps_by_placement``, ``latency_by_placement``: throughput and latency of each placement (SSSS ...
  EEEE, merged depths) against the monolith, from a placement matrix (pipeline_matrix.aggregate's
  rows: the newest benchmarks/results/pipeline_matrix*/matrix.json), when there is one.
The gpu_workloads report (roles/gpu_workloads/files/jc_report.py) draws the lab's or cluster's
matrix with ``write`` too, its panels by size fed by pipeline_matrix.by_size.
"""

import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
PLOT = os.path.join(ROOT, "docs", "pipeline.png")


def newest_results():
    """The newest pipeline_bench.py result among those with the most image sizes (a run of one
    size, like run 4, makes poor curves)."""
    best = None
    for path in sorted(glob.glob(os.path.join(RESULTS, "pipeline_*", "pipeline.json"))):
        with open(path) as handle:
            sizes = len(json.load(handle).get("sizes", {}))
        if best is None or sizes >= best[0]:
            best = (sizes, path)
    return best[1] if best else None


def newest_matrix():
    """The rows of the newest placement matrix (benchmarks/pipeline_matrix.py), or None."""
    paths = sorted(glob.glob(os.path.join(RESULTS, "pipeline_matrix*", "matrix.json")))
    if not paths:
        return None
    with open(paths[-1]) as handle:
        return json.load(handle)["rows"]


def _sizes(results):
    def pixels(size):
        width, height = (int(v) for v in size.split("x"))
        return width * height
    return sorted(results["sizes"], key=pixels), pixels


def _depths(results):
    entry = next(iter(results["sizes"].values()))
    return sorted(int(k[5:]) for k in entry if k.startswith("depth"))


def _size_axis(ax, sizes, ylabel, title):
    """The x axis of a panel by image size (one tick per size, in _sizes' order), its labels, legend."""
    ax.set_xticks(range(len(sizes)))
    ax.set_xticklabels(sizes, fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6)


def latency_by_size(ax, results):
    """``results["latency"]``: which field is the latency and what it is called on the axis (default
    pipeline_bench.py's paced runs; the placement matrix gives communication + computation)."""
    sizes, _ = _sizes(results)
    key, label = results.get("latency", ("latency_paced", "ms per image (paced, median)"))
    xs = list(range(len(sizes)))  # ordered by pixels; 1280x720 and 1024x1024 are close
    ax.plot(xs, [1000 * results["sizes"][s]["monolith"][key] for s in sizes], "k-o", label="monolith")
    for depth in _depths(results):
        items = [results["sizes"][s]["depth%d" % depth] for s in sizes]
        line, = ax.plot(xs, [1000 * i[key] for i in items], "-o", label="%d stages" % depth)
        ax.plot(xs, [1000 * i["communication"] for i in items], ":", color=line.get_color(),
                label="%d st. communication" % depth)
        ax.plot(xs, [1000 * i["computation"] for i in items], "--", color=line.get_color(), alpha=0.6,
                label="%d st. computation" % depth)
    ax.set_yscale("log")
    _size_axis(ax, sizes, label, "Latency by image size")


def ccr_by_size(ax, results):
    sizes, _ = _sizes(results)
    xs = list(range(len(sizes)))
    for depth in _depths(results):
        items = [results["sizes"][s]["depth%d" % depth] for s in sizes]
        line, = ax.plot(xs, [i["ccr"] for i in items], "-o", label="%d st., wall" % depth)
        if all(i.get("ccr_cpu_throughput") is not None for i in items):
            ax.plot(xs, [i["ccr_cpu_throughput"] for i in items], "--s", color=line.get_color(),
                    label="%d st., process CPU" % depth)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    _size_axis(ax, sizes, "CCR (communication / computation)", "CCR by image size")


def fps_by_depth(ax, results):
    sizes, _ = _sizes(results)
    depths = _depths(results)
    width = 0.8 / len(depths)
    for position, depth in enumerate(depths):
        items = [results["sizes"][s]["depth%d" % depth] for s in sizes]
        xs = [i + (position - (len(depths) - 1) / 2.0) * width for i in range(len(sizes))]
        ax.bar(xs, [i["speedup"] for i in items], width, label="%d stages" % depth)
        mono = [results["sizes"][s]["monolith"]["fps"] for s in sizes]
        if all(i.get("bound_cpu_fps_throughput") for i in items):  # the process-CPU bound (metrics.py)
            ax.plot(xs, [i["bound_cpu_fps_throughput"] / m for i, m in zip(items, mono)], "k_", markersize=8)
        elif all(i.get("bound_speedup") is not None for i in items):
            ax.plot(xs, [i["bound_speedup"] for i in items], "k_", markersize=8)
    ax.axhline(1.0, color="black", linewidth=0.8)
    _size_axis(ax, sizes, "fps / monolith fps (median of runs)",
               "Throughput by depth (bars; ticks: the CPU bound, else the paced one)")


def _by_placement(rows):
    """The rows by image size (pixels), depth, placement."""
    def pixels(size):
        width, height = (int(v) for v in size.split("x"))
        return width * height
    return sorted(rows, key=lambda r: (pixels(r["size"]), r["depth"], r["placement"]))


def fps_by_placement(ax, rows):
    """``rows``: [{placement, depth, size, fps, monolith_fps}] (pipeline_matrix.aggregate)."""
    rows = _by_placement(rows)
    labels = ["%s\n%s" % (r["placement"], r["size"]) for r in rows]
    ax.bar(range(len(rows)), [r["fps"] / r["monolith_fps"] for r in rows], color="#4477aa")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, fontsize=6)
    ax.set_ylabel("fps / monolith fps")
    ax.set_title("Throughput by placement", fontsize=9)


def latency_by_placement(ax, rows):
    """``rows`` as fps_by_placement: each placement's median end-to-end latency (producer to sink,
    queueing included) and its per-image communication + computation, against the monolith's."""
    rows = _by_placement(rows)
    xs = list(range(len(rows)))
    ends = [1000 * (r.get("latency_median") or 0.0) for r in rows]
    ax.bar(xs, ends, color="#aabbdd", label="end to end (queueing included)")
    ax.plot(xs, [1000 * ((r.get("communication") or 0.0) + (r.get("computation") or 0.0)) for r in rows], "o",
            color="#223366", label="communication + computation")
    ax.plot(xs, [1000 * (r.get("monolith_computation") or 0.0) for r in rows], "k_", markersize=8,
            label="monolith")
    if any(value > 0 for value in ends):
        ax.set_yscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels(["%s\n%s" % (r["placement"], r["size"]) for r in rows], fontsize=6)
    ax.set_ylabel("ms per image (median)")
    ax.set_title("Latency by placement", fontsize=9)
    ax.legend(fontsize=6)


def write(results, path=PLOT, placements=None, title=None):
    """The figure: the panels by size from ``results`` and, with ``placements`` (aggregate's rows),
    throughput and latency by placement. ``title``: the figure's title (default: the machine's)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [latency_by_size, ccr_by_size, fps_by_depth]
    extra = [fps_by_placement, latency_by_placement] if placements else []
    count = len(panels) + len(extra)
    fig, axes = plt.subplots(1, count, figsize=(5 * count, 4.2))
    for ax, panel in zip(axes, panels):
        panel(ax, results)
    for ax, panel in zip(axes[len(panels):], extra):
        panel(ax, placements)
    machine = results.get("machine", {})
    fig.suptitle(title or "Workload III, jc_pipeline: %s CPUs, Python %s, numpy %s, grpcio %s" % (
        machine.get("cpus"), machine.get("python"), machine.get("numpy"), machine.get("grpcio")), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv):
    path = argv[0] if argv else newest_results()
    if not path:
        sys.exit("no benchmarks/results/pipeline_*/pipeline.json")
    with open(path) as handle:
        results = json.load(handle)
    print(write(results, placements=newest_matrix()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
