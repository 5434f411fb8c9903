#!/usr/bin/env python3
"""Issue 15: what Python's cyclic garbage collector costs a jc_infer pod outside its timed window.

Run 8's timed windows have gaps of 40-210 ms at the same batch numbers in every process (4, 73,
112, 151, 175 ...; docs/benchmarks.md, "Where the window's gaps fall"): a deterministic pause, not
contention. The window side is measured by jc_infer itself (GC_FREEZE, the result line's "gc");
this probe measures the start-up side, in fresh processes, with the collector on (as Python
starts) and off (GC_FREEZE's start-up): `import torch` + torchvision's image extension (as
jc_infer loads it) — its time, the collections during it by generation and their seconds, the
objects alive after it — and one full collection after it (what each full collection in a window
scans, at least).

    PYTHONPATH=roles/gpu_workloads/files python3 benchmarks/gc_import_probe.py --rounds 5
"""

import argparse
import json
import subprocess
import sys

CHILD = r"""
import gc, json, sys, time
mode = sys.argv[1]
stats = [[0, 0.0, 0.0], [0, 0.0, 0.0], [0, 0.0, 0.0]]
started = []
def cb(phase, info):
    if phase == "start":
        started.append(time.perf_counter())
    elif started:
        s = stats[info["generation"]]; dt = time.perf_counter() - started.pop()
        s[0] += 1; s[1] += dt; s[2] = max(s[2], dt)
gc.callbacks.append(cb)
if mode == "off":
    gc.disable()
t = time.perf_counter()
import torch
t_torch = time.perf_counter() - t
from jc_infer.runtime import load_image_ops
ops = load_image_ops(torch)
t_all = time.perf_counter() - t
during = [list(s) for s in stats]
objects = len(gc.get_objects())
gc.enable()
t = time.perf_counter(); gc.collect(); full = time.perf_counter() - t
print(json.dumps({"collector": mode, "import_torch": t_torch, "import_torch_and_ext": t_all, "ext": ops.source if ops else None,
                  "collections": [s[0] for s in during], "gc_seconds": sum(s[1] for s in during),
                  "longest": max(s[2] for s in during), "objects": objects, "full_collect_after": full}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = {"on": [], "off": []}
    for r in range(args.rounds):
        for mode in ("on", "off") if r % 2 == 0 else ("off", "on"):
            out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, timeout=300,
                                 check=True).stdout.strip().splitlines()[-1]
            row = json.loads(out)
            rows[mode].append(row)
            print("round %d collector %-3s: import torch %.3f s (+ext %.3f), %s collections by generation, "
                  "%.3f s in them (longest %.3f), %d objects, a full collection after it %.3f s"
                  % (r, mode, row["import_torch"], row["import_torch_and_ext"], row["collections"],
                     row["gc_seconds"], row["longest"], row["objects"], row["full_collect_after"]), flush=True)
    for mode, items in rows.items():
        items = sorted(items, key=lambda x: x["import_torch_and_ext"])
        mid = items[len(items) // 2]
        print("median collector %s: import torch + ext %.3f s (%.3f-%.3f), in collections %.3f s, objects %d, "
              "full collection %.3f s" % (mode, mid["import_torch_and_ext"], items[0]["import_torch_and_ext"],
                                          items[-1]["import_torch_and_ext"], mid["gc_seconds"], mid["objects"],
                                          sorted(x["full_collect_after"] for x in items)[len(items) // 2]))


if __name__ == "__main__":
    main()
