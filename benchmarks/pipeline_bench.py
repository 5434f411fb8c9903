#!/usr/bin/env python3
"""Workload III on one machine: the monolith against 2-, 3- and 4-stage jc_pipeline chains.

Every stage is its own process on 127.0.0.1, pinned to its own CPU core (one core per stage,
as if on separate nodes; numpy runs single-threaded); the monolith is one process on one core;
the sink (this process) has a core of its own. For each image size:
- throughput: ``--repeats`` runs of N images each (N from ``--pixels-per-run``), median fps;
- latency, CCR and the bound: one paced run (the producer starts an image every ``interval``,
  twice the slowest measured per-image period, so nothing queues) of ``--paced-images``; its
  per-stage service times (recv + compute + send) give the bound 1 / slowest.
The chains' output digests must equal the monolith's (checked on every run).

    python3 benchmarks/pipeline_bench.py --out results.json [--markdown table.md]
    python3 benchmarks/pipeline_bench.py --render results.json   (tables from a finished run)
Needs numpy, grpcio and grpcio-tools (or generated code in $JC_PIPELINE_GENERATED).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = os.path.join(ROOT, "roles", "pipeline_workload", "files")
sys.path.insert(0, FILES)
sys.path.insert(0, os.path.join(ROOT, "plugins", "module_utils"))

from jc_pipeline import metrics, ops, sink, wire  # noqa: E402
from jc_pipeline.local import LocalChain  # noqa: E402
import pipeline_matrix  # noqa: E402

SIZES = ["128x128", "256x256", "512x512", "1024x1024", "1280x720"]


def monolith(key, count, cpu, digest=False):
    """One monolith process; timed runs do not hash (the hashing would count in its one thread)."""
    env = dict(os.environ, PYTHONPATH=FILES, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "jc_pipeline", "monolith", "--key", key, "--datacount", str(count),
                          "--cpu", str(cpu)] + ([] if digest else ["--no-digest"]),
                         stdout=subprocess.PIPE, env=env, check=True, universal_newlines=True)
    return json.loads(out.stdout)


def images_for(size, pixels_per_run):
    return pipeline_matrix.images_per_run(size, pixels_per_run, least=30, most=1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--depths", default="2,3,4")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pixels-per-run", type=int, default=250000000,
                        help="images per throughput run = this / pixels per image (30..1000)")
    parser.add_argument("--paced-images", type=int, default=20)
    parser.add_argument("--chunk-bytes", type=int, default=wire.DEFAULT_CHUNK_BYTES,
                        help="the stages' chunks for a client that asks for no size")
    parser.add_argument("--pull-chunk-bytes", type=int, default=wire.MAX_CHUNK_BYTES,
                        help="chunk size every hop asks for (default: whole images; 0: ask for none)")
    parser.add_argument("--first-cpu", type=int, default=0, help="stages on cores first..first+depth-1")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument("--out", default="")
    parser.add_argument("--markdown", default="")
    parser.add_argument("--render", default="", help="print the tables of a finished run's JSON and exit")
    args = parser.parse_args()
    if args.render:
        with open(args.render) as handle:
            results = json.load(handle)
        depths = sorted(int(k[5:]) for k in next(iter(results["sizes"].values())) if k.startswith("depth"))
        print(markdown(results, depths) + "\n" + balance(results, depths) + "\n" + cpu_table(results, depths))
        return 0
    if not args.out:
        parser.error("--out is required")

    if not os.environ.get("JC_PIPELINE_GENERATED"):
        os.environ["JC_PIPELINE_GENERATED"] = wire.generate(tempfile.mkdtemp(prefix="jc-pipeline-gen-"))
    depths = [int(d) for d in args.depths.split(",")]
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    pin = not args.no_pin and len(cores) >= max(depths) + 1
    first = args.first_cpu
    sink_cpu, mono_cpu = first + max(depths), first
    if pin:
        os.sched_setaffinity(0, {sink_cpu})
    results = {"machine": {"cpus": len(cores), "pinned": pin, "python": platform.python_version(),
                           "numpy": __import__("numpy").__version__, "grpcio": __import__("grpc").__version__,
                           "platform": platform.platform(), "processor": platform.processor()},
               "settings": vars(args), "sizes": {}}
    chains = {}
    try:
        for depth in depths:
            chains[depth] = LocalChain(depth, cpus=list(range(first, first + depth)) if pin else None,
                                       chunk_bytes=args.chunk_bytes, idle_timeout=60,
                                       pull_chunk_bytes=args.pull_chunk_bytes).start()
        for size in args.sizes.split(","):
            count = images_for(size, args.pixels_per_run)
            entry = {"images": count}
            mono_runs = [monolith(size, count, mono_cpu if pin else -1) for _ in range(args.repeats)]
            entry["monolith"] = {"fps": statistics.median(r["fps"] for r in mono_runs),
                                 "fps_runs": [r["fps"] for r in mono_runs],
                                 "latency": statistics.median(r["latency_median"] for r in mono_runs),
                                 "cpu": statistics.median(r["stages"][0]["median_cpu"] for r in mono_runs),
                                 "block_seconds": mono_runs[-1]["median_block"]}
            digest = monolith(size, count, mono_cpu if pin else -1, digest=True)["sha256"]
            slowest_period = 1.0 / entry["monolith"]["fps"]
            for depth in depths:
                runs = [sink.run(chains[depth].last, size, count, chunk_bytes=args.pull_chunk_bytes)
                        for _ in range(args.repeats)]
                if any(r["sha256"] != digest for r in runs):
                    raise SystemExit("%s depth %d: output differs from the monolith's" % (size, depth))
                fps = statistics.median(r["fps"] for r in runs)
                slowest_period = max(slowest_period, 1.0 / fps)
                entry["depth%d" % depth] = {"fps": fps, "fps_runs": [r["fps"] for r in runs],
                                            "throughput_stages": runs[-1]["stages"]}
            interval = 2.0 * slowest_period
            paced_key = "%s,interval=%.6f" % (size, interval)
            mono_paced = monolith(paced_key, args.paced_images, mono_cpu if pin else -1, digest=True)
            entry["monolith"]["latency_paced"] = mono_paced["latency_median"]
            for depth in depths:
                paced = sink.run(chains[depth].last, paced_key, args.paced_images, chunk_bytes=args.pull_chunk_bytes)
                if paced["sha256"] != mono_paced["sha256"]:
                    raise SystemExit("%s depth %d (paced): output differs from the monolith's" % (size, depth))
                item = entry["depth%d" % depth]
                throughput = metrics.ccr(item["throughput_stages"])
                item.update({
                    "latency_paced": paced["latency_median"], "ccr": paced["ccr"],
                    "communication": paced["communication_median"], "computation": paced["computation_median"],
                    "bound_fps": paced["bound_fps"], "slowest_stage": paced["slowest_stage"],
                    "ccr_cpu": paced["ccr_cpu"], "communication_cpu": paced["communication_cpu_median"],
                    "bound_cpu_fps": paced["bound_cpu_fps"], "busiest_cpu_stage": paced["busiest_cpu_stage"],
                    "ccr_cpu_throughput": throughput["cpu"],
                    "bound_cpu_fps_throughput": 1.0 / max(st["median_cpu"] for st in item["throughput_stages"]),
                    "paced_stages": paced["stages"],
                    "of_bound": item["fps"] / paced["bound_fps"],
                    "speedup": item["fps"] / entry["monolith"]["fps"],
                    "bound_speedup": paced["bound_fps"] / entry["monolith"]["fps"],
                })
            results["sizes"][size] = entry
            with open(args.out, "w") as handle:  # what is done so far survives a time limit
                handle.write(metrics.to_json(results))
            sys.stderr.write("%s: %s\n" % (size, metrics.to_json(
                {k: (v["fps"] if isinstance(v, dict) else v) for k, v in entry.items()})))
    finally:
        for chain in chains.values():
            chain.stop()
    with open(args.out, "w") as handle:
        handle.write(metrics.to_json(results))
    table = markdown(results, depths) + "\n" + balance(results, depths) + "\n" + cpu_table(results, depths)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(table)
    return 0


def by_pixels(results):
    def pixels(item):
        width, height = (int(v) for v in item[0].split("x"))
        return width * height
    return sorted(results["sizes"].items(), key=pixels)


def markdown(results, depths):
    lines = ["| size | monolith fps | " + " | ".join(
        "%d st. fps (x mono) | bound fps (x mono) | of bound | CCR" % d for d in depths) + " |",
        "|---|---:|" + "---:|---:|---:|---:|" * len(depths)]
    for size, entry in by_pixels(results):
        cells = ["%.1f" % entry["monolith"]["fps"]]
        for depth in depths:
            item = entry["depth%d" % depth]
            cells += ["%.1f (%.2fx)" % (item["fps"], item["speedup"]),
                      "%.1f (%.2fx)" % (item["bound_fps"], item["bound_speedup"]),
                      "%.0f %%" % (100 * item["of_bound"]), "%.2f" % item["ccr"]]
        lines.append("| %s | %s |" % (size, " | ".join(cells)))
    lines += ["", "| size | monolith latency ms | " + " | ".join("%d st. latency ms" % d for d in depths)
              + " | slowest stage (4 st.) |", "|---|---:|" + "---:|" * len(depths) + "---|"]
    for size, entry in by_pixels(results):
        cells = ["%.2f" % (1000 * entry["monolith"]["latency_paced"])]
        cells += ["%.2f" % (1000 * entry["depth%d" % d]["latency_paced"]) for d in depths]
        deepest = entry["depth%d" % max(depths)]
        cells.append("%s %.2f ms" % (deepest["slowest_stage"], 1000 / deepest["bound_fps"]))
        lines.append("| %s | %s |" % (size, " | ".join(cells)))
    return "\n".join(lines) + "\n"


def balance(results, depths):
    """Where the time of the deepest chain goes: per stage, median recv / compute / send (ms) in
    the throughput runs; the bound if transfers were free (1 / largest compute); the steady
    bound from the stage that computes longest (its downstream is faster, so its send has no
    flow-control wait in it: recv + compute + send is its service time)."""
    depth = max(depths)
    lines = ["| size | %d-stage recv / compute / send per stage, ms | compute-only bound (x mono) | "
             "steady bound (x mono) | measured of steady bound |" % depth, "|---|---|---:|---:|---:|"]
    for size, entry in by_pixels(results):
        item, mono = entry["depth%d" % depth], entry["monolith"]["fps"]
        stages = item["throughput_stages"]
        cells = ", ".join("%s %.2f / %.2f / %.2f" % (s["stage"], 1000 * s["median_recv"], 1000 * s["median_compute"],
                                                      1000 * s["median_send"]) for s in stages)
        compute_bound = 1.0 / max(s["median_compute"] for s in stages)
        busiest = max(stages, key=lambda s: s["median_compute"])
        steady = 1.0 / busiest["median_service"]
        lines.append("| %s | %s | %.1f (%.2fx) | %.1f (%.2fx, %s) | %.0f %% |" % (
            size, cells, compute_bound, compute_bound / mono, steady, steady / mono, busiest["stage"],
            100 * item["fps"] / steady))
    return "\n".join(lines) + "\n"


def cpu_table(results, depths):
    """Process CPU per image (metrics.py ``cpu``): each stage's compute plus what its gRPC threads
    spend on the transfers. With one core per stage, 1 / the largest stage CPU is the chain's
    bound (throughput runs), and (CPU - compute) / compute summed over the stages is CCR_cpu.
    The stage records are the last throughput run's, so "of CPU bound" is that run's fps over it."""
    lines = ["| size | monolith CPU ms | " + " | ".join(
        "%d st. CPU per stage ms | CPU bound fps (x mono) | of CPU bound | CCR_cpu" % d for d in depths) + " |",
        "|---|---:|" + "---|---:|---:|---:|" * len(depths)]
    for size, entry in by_pixels(results):
        if "cpu" not in entry["monolith"]:
            continue
        mono = entry["monolith"]["fps"]
        cells = ["%.2f" % (1000 * entry["monolith"]["cpu"])]
        for depth in depths:
            item = entry["depth%d" % depth]
            stages = item["throughput_stages"]
            bound = item["bound_cpu_fps_throughput"]
            cells += [", ".join("%s %.2f" % (st["stage"], 1000 * st["median_cpu"]) for st in stages),
                      # against the run whose stage records these are (the last), not the median run
                      "%.1f (%.2fx)" % (bound, bound / mono), "%.0f %%" % (100 * item["fps_runs"][-1] / bound),
                      "%.2f" % item["ccr_cpu_throughput"]]
        lines.append("| %s | %s |" % (size, " | ".join(cells)))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
