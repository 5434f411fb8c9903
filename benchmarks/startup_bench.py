#!/usr/bin/env python3
"""Time to result of jc_infer pods (issue 15): fixed overhead per process before vs after, and the
wall-clock speed-up of N GPUs over one on a whole job.

Runs on the GPU machine (any host with NVIDIA GPUs, torch, torchvision, Pillow):
    python3 benchmarks/startup_bench.py --before OLD_PARENT --after NEW_PARENT \\
        --dataset-tool roles/nfs_server/files/jc_dataset.py --out OUT
where OLD_PARENT / NEW_PARENT are directories holding a jc_infer package each (a copy of the
package at the baseline commit, and the one under test).

1. dataset: --unique JPEGs (500x375, quality 90) from jc_dataset.py, hard-linked into one directory
   of --view-images names (r<k>_img_*.jpg); read once so that every run finds them in the page cache.
2. fixed: --repeats rounds of fresh processes on GPU 0, each round one process per variant, on the
   first --images files (TOTAL_IMAGES), every setting at its default as a pod runs it:
   before        the baseline package, python3 -m jc_infer
   after         the package under test, python3 -m jc_infer (flushes and leaves with os._exit)
   after_exit    the package under test through `python3 -c "...sys.exit(main())"`: the normal
                 interpreter teardown, to show what os._exit saves
   --variant-env NAME=BASE:K=V,K=V adds a variant: BASE's package and command with these settings
   (e.g. after_serial=after:OVERLAP_STARTUP=off), for measuring a choice both ways.
   Per process: wall (parent's clock, Popen to exit), result_to_exit (the JSON line's arrival to
   exit), fixed = wall - seconds (the timed window), and the process's own breakdown.
3. multi (with >= 2 GPUs): --multi-images files (a comma list: the first goes to "multi", each
   further size N to "multi_N"), 1 process on GPU 0, then one process per GPU at
   once (TOTAL_JOBS=N, JOB_COMPLETION_INDEX=i, CUDA_VISIBLE_DEVICES=i); job wall = start to the last
   exit; speed-up = 1-GPU job wall / N-GPU job wall, per variant in --multi-variants; steady-state
   efficiency = 1-GPU window / (N x the slowest pod's window), imbalance = slowest / fastest pod window.
results.json is rewritten after every process, so a run cut short keeps what it measured.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import gpu_bench  # beside this script (benchmarks/): one results writer

RESULTS = {"argv": sys.argv[1:], "fixed": {}, "multi": {}}


def log(msg):
    sys.stderr.write("[startup_bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def save(out):
    gpu_bench.save(out, RESULTS)


def make_dataset(args):
    unique = os.path.join(args.work, "unique")
    view = os.path.join(args.work, "view")
    t = time.time()
    if not os.path.isdir(unique):
        subprocess.run([sys.executable, args.dataset_tool, "generate", unique, "--count", str(args.unique),
                        "--jobs", str(len(os.sched_getaffinity(0)))], check=True, stdout=subprocess.DEVNULL)
    names = sorted(n for n in os.listdir(unique) if n.endswith(".jpg"))
    if not os.path.isdir(view):
        os.makedirs(view)
        for k in range(args.view_images):
            r, i = divmod(k, len(names))
            os.link(os.path.join(unique, names[i]), os.path.join(view, "r%03d_%s" % (r, names[i])))
    for n in names:  # into the page cache (the links share these inodes)
        with open(os.path.join(unique, n), "rb") as handle:
            handle.read()
    RESULTS["dataset"] = {"unique": len(names), "view_images": args.view_images, "seconds": time.time() - t}
    log("dataset: %d unique JPEGs, %d names, %.1f s" % (len(names), args.view_images, time.time() - t))
    return view


VARIANT_ENV = {}  # variant -> extra settings (--variant-env)
BASE = {"after_exit": "after"}  # variant -> the variant whose command it runs


def start(parent, variant, env, gpu, logname, out):
    full = dict(os.environ)
    full.update({k: str(v) for k, v in env.items()})
    full.update(VARIANT_ENV.get(variant, {}))
    base = variant
    while base in BASE and base != "after_exit":
        base = BASE[base]
    full["CUDA_VISIBLE_DEVICES"] = str(gpu)
    full["PYTHONPATH"] = parent
    if base == "after_exit":
        cmd = [sys.executable, "-c", "import sys; from jc_infer.workload import main; sys.exit(main())"]
    else:
        cmd = [sys.executable, "-m", "jc_infer"]
    err = open(os.path.join(out, "logs", logname), "w")
    t = time.time()
    proc = subprocess.Popen(cmd, env=full, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
    return proc, t, err


def finish(handle, label):
    proc, t, err = handle
    result, t_line = None, None
    for line in proc.stdout:
        if line.startswith("{"):
            result, t_line = json.loads(line), time.time()
    proc.wait()
    t_exit = time.time()
    err.close()
    if proc.returncode or result is None or "error" in result:
        raise RuntimeError("%s: exit %s, result %r" % (label, proc.returncode, result))
    result["wall_seconds"] = t_exit - t
    result["result_to_exit_seconds"] = t_exit - t_line
    result["parent_start"] = t
    result["parent_exit"] = t_exit
    return result


def finish_all(handles, labels):
    """finish() of every pod at once (one thread each): each pod's result line and exit are timed when
    they happen, not after the pods before it in the list have exited."""
    import threading
    results, failures = [None] * len(handles), []

    def one(i):
        try:
            results[i] = finish(handles[i], labels[i])
        except Exception as exc:  # noqa: BLE001 - raised below
            failures.append(exc)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(handles))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return results


def _fmt(value):
    return "-" if value is None else "%.3f" % value


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _gc_note(res):
    """The collector's part by phase (jc_infer's "gc", GC_FREEZE), where the package reports it."""
    gc = res.get("gc")
    if not isinstance(gc, dict) or "window" not in gc:
        return ""
    return ", gc (freeze %s): %s" % (gc["freeze"], "; ".join(
        "%s %s %.3f s" % (p, gc[p]["collections"], gc[p]["seconds"]) for p in ("startup", "warmup", "window")))


def stage_fixed(args, view, parents):
    env = {"IMAGE_DIR": view, "TOTAL_IMAGES": args.images}
    runs = dict((v, []) for v in args.variants)
    for r in range(args.repeats):
        for v in args.variants:
            res = finish(start(parents[v], v, env, 0, "fixed_%s_%d.log" % (v, r), args.out), v)
            res["fixed_wall_seconds"] = res["wall_seconds"] - res["seconds"]
            runs[v].append(res)
            log("%-10s run %d: wall %.2f s, window %.2f s (%.0f img/s), fixed %.2f s (startup %.2f, warm-up %.2f), "
                "result->exit %.2f s, startup %s%s"
                % (v, r, res["wall_seconds"], res["seconds"], res["throughput"], res["fixed_wall_seconds"],
                   res["startup_seconds"], res["warmup_seconds"], res["result_to_exit_seconds"],
                   json.dumps(dict((k, round(x, 2)) for k, x in res["startup"].items())), _gc_note(res)))
            RESULTS["fixed"][v] = {"runs": runs[v]}
            for key in ("wall_seconds", "seconds", "fixed_wall_seconds", "startup_seconds", "warmup_seconds",
                        "result_to_exit_seconds", "throughput"):
                RESULTS["fixed"][v][key] = summary([x[key] for x in runs[v]])
            save(args.out)


def stage_multi(args, view, parents, gpus, images, key):
    for v in args.multi_variants:
        walls = {1: [], gpus: []}
        for r in range(args.multi_repeats):
            for n in (1, gpus):
                env = {"IMAGE_DIR": view, "TOTAL_IMAGES": images, "TOTAL_JOBS": n}
                handles = []
                for i in range(n):
                    e = dict(env, JOB_COMPLETION_INDEX=i)
                    handles.append(start(parents[v], v, e, i, "multi_%s_%dgpu_%d_%d.log" % (v, n, r, i), args.out))
                pods = finish_all(handles, ["%s %d GPU pod %d" % (v, n, i) for i in range(n)])
                job_wall = max(p["parent_exit"] for p in pods) - min(p["parent_start"] for p in pods)
                walls[n].append(job_wall)
                rec = RESULTS[key].setdefault(v, {}).setdefault("%d_gpu" % n, {"runs": []})
                rec["runs"].append({"job_wall_seconds": job_wall, "pods": pods})
                rec["job_wall_seconds"] = summary(walls[n])
                log("%s %-8s %d GPU run %d: job wall %.2f s, pods: %s" % (
                    key, v, n, r, job_wall, ", ".join("%d img in %.2f s (window %.2f s, first batch %s, excess %s; fixed %.2f s, torch %.2f, "
                                        "fill %s, after window %s, exit %.2f)" % (
                        p["images"], p["wall_seconds"], p["seconds"],
                        _fmt(p.get("window_profile", {}).get("first_batch")),
                        _fmt(p.get("window_profile", {}).get("excess")), p["wall_seconds"] - p["seconds"],
                        p["startup"].get("import_torch", 0), _fmt(p.get("warmup", {}).get("pipeline_fill")),
                        _fmt(p.get("after_window_seconds")), p["result_to_exit_seconds"])
                        for p in pods)))
                save(args.out)
        if walls[1] and walls[gpus]:
            rec = RESULTS[key][v]
            speedups = [a / b for a, b in zip(walls[1], walls[gpus])]
            rec["speedup"] = summary(speedups)
            rec["speedup_of_medians"] = statistics.median(walls[1]) / statistics.median(walls[gpus])
            one = [run["pods"][0]["seconds"] for run in rec["1_gpu"]["runs"]]
            many = [[p["seconds"] for p in run["pods"]] for run in rec["%d_gpu" % gpus]["runs"]]
            rec["efficiency"] = summary([a / (gpus * max(b)) for a, b in zip(one, many)])
            rec["imbalance"] = summary([max(b) / min(b) for b in many])
            log("%s %s: %d GPUs vs 1, wall-clock speed-up %.3f (median of pairs), of medians %.3f, "
                "steady-state efficiency %.3f, imbalance %.3f"
                % (key, v, gpus, statistics.median(speedups), rec["speedup_of_medians"],
                   rec["efficiency"]["median"], rec["imbalance"]["median"]))
            save(args.out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="directory holding the baseline jc_infer package")
    parser.add_argument("--after", required=True, help="directory holding the jc_infer package under test")
    parser.add_argument("--dataset-tool", required=True)
    parser.add_argument("--work", default="/tmp/startup_bench")
    parser.add_argument("--out", required=True)
    parser.add_argument("--unique", type=int, default=5000)
    parser.add_argument("--view-images", type=int, default=200000)
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default="before,after,after_exit")
    parser.add_argument("--multi-images", default="200000", help="comma list of job sizes")
    parser.add_argument("--variant-env", action="append", default=[], metavar="NAME=BASE:K=V,K=V")
    parser.add_argument("--multi-repeats", type=int, default=3)
    parser.add_argument("--multi-variants", default="after,before")
    parser.add_argument("--stages", default="fixed,multi")
    args = parser.parse_args()
    args.variants = [v for v in args.variants.split(",") if v]
    args.multi_variants = [v for v in args.multi_variants.split(",") if v]
    os.makedirs(os.path.join(args.out, "logs"), exist_ok=True)
    parents = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after),
               "after_exit": os.path.abspath(args.after)}
    for spec in args.variant_env:
        name, rest = spec.split("=", 1)
        base, _, pairs = rest.partition(":")
        parents[name] = parents[base]
        BASE[name] = base
        VARIANT_ENV[name] = dict(p.split("=", 1) for p in pairs.split(",") if p)
    RESULTS["variant_env"] = VARIANT_ENV
    import torch  # only to count the GPUs and record versions (the pods import their own)
    gpus = torch.cuda.device_count()
    RESULTS["env"] = {"gpus": gpus, "gpu": torch.cuda.get_device_name(0) if gpus else None,
                      "torch": torch.__version__, "python": sys.version.split()[0],
                      "cpus": len(os.sched_getaffinity(0)), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    del torch
    log("env: %s" % RESULTS["env"])
    view = make_dataset(args)
    save(args.out)
    stages = args.stages.split(",")
    if "fixed" in stages:
        stage_fixed(args, view, parents)
    sizes = [int(n) for n in args.multi_images.split(",") if n]
    for i, images in enumerate(sizes):
        key = "multi" if i == 0 else "multi_%d" % images
        RESULTS.setdefault(key, {})
        if "multi" in stages and gpus >= 2:
            stage_multi(args, view, parents, gpus, images, key)
        elif "multi" in stages:
            RESULTS[key] = {"skipped": "%d GPU(s)" % gpus}
    save(args.out)


if __name__ == "__main__":
    main()
