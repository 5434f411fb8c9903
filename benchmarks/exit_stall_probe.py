#!/usr/bin/env python3
"""Issue 15, run 8's open question: does another CUDA process's start-up or exit slow a running
jc_infer window?

In run 8 the 60,000-image two-GPU pods whose timed window overlapped the other pod's end by 0.3 s
or more ran at a median 12,514 img/s (9,099-12,902, 7 pods), those with no such overlap at 13,547
(docs/benchmarks.md, "Sixth session"). Hypothesis: a process's exit (its CUDA context torn down:
device memory, pinned host memory) or start-up (cuInit, context creation, library loading) stalls
the other process's GPU work through the driver.

The probe, on one GPU: a "steady" process runs ResNet-50 (fp16, channels_last, batch 256, random
init, device-resident input) in a loop for --seconds and records when each batch finishes
(synchronised). A second "other" process starts after --other-start seconds on --other-device:
imports torch, allocates device memory and pinned host memory like a pod, runs a few batches,
waits --other-idle seconds and leaves with os._exit, as jc_infer does. The parent records when
the other started, was ready, called exit and was reaped; the steady process's batch intervals are
then grouped by what the other was doing. Prints one JSON line per repeat and a summary.

    python3 benchmarks/exit_stall_probe.py --repeats 3 [--other-device 0]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

STEADY = r"""
import json, sys, time, torch
import torch.nn as nn
sys.path.insert(0, sys.argv[3])
from jc_infer.resnet import resnet50
torch.backends.cudnn.benchmark = False
dev = torch.device("cuda:%d" % int(sys.argv[2]))
with torch.device("meta"):
    m = resnet50(torch)
m = m.to_empty(device=dev).half().to(memory_format=torch.channels_last).eval()
for p in m.parameters():
    nn.init.normal_(p, std=0.01)
for name, b in m.named_buffers():
    if "running_var" in name:
        b.fill_(1.0)
    elif b.is_floating_point():
        b.zero_()
x = torch.randn(256, 3, 224, 224, device=dev).half().to(memory_format=torch.channels_last)
with torch.inference_mode():
    for _ in range(20):
        m(x)
    torch.cuda.synchronize(dev)
    print(json.dumps({"ready": time.time()}), flush=True)
    end, marks = time.time() + float(sys.argv[1]), []
    while time.time() < end:
        m(x)
        torch.cuda.synchronize(dev)
        marks.append(time.time())
print(json.dumps({"marks": marks}), flush=True)
"""

OTHER = r"""
import json, os, sys, time
t0 = time.time()
import torch
import torch.nn as nn
sys.path.insert(0, sys.argv[3])
from jc_infer.resnet import resnet50
dev = torch.device("cuda:%d" % int(sys.argv[1]))
hold = torch.empty(int(float(sys.argv[4]) * 2**30), dtype=torch.uint8, device=dev)
pinned = torch.empty(int(float(sys.argv[5]) * 2**30), dtype=torch.uint8, pin_memory=True)
with torch.device("meta"):
    m = resnet50(torch)
m = m.to_empty(device=dev).half().to(memory_format=torch.channels_last).eval()
x = torch.randn(64, 3, 224, 224, device=dev).half().to(memory_format=torch.channels_last)
with torch.inference_mode():
    for _ in range(5):
        m(x)
torch.cuda.synchronize(dev)
print(json.dumps({"started": t0, "ready": time.time()}), flush=True)
time.sleep(float(sys.argv[2]))
print(json.dumps({"exit": time.time()}), flush=True)
os._exit(0)
"""


def phase_of(t, o):
    if t < o["spawned"]:
        return "before"
    if t < o["ready"]:
        return "other starting"
    if t < o["exit"]:
        return "other idle"
    if t < o["reaped"] + 0.2:
        return "other exiting"
    return "after"


def one(args, package_parent):
    steady = subprocess.Popen([sys.executable, "-c", STEADY, str(args.seconds), str(args.device), package_parent],
                              stdout=subprocess.PIPE, text=True)
    ready = json.loads(steady.stdout.readline())["ready"]
    time.sleep(max(0.0, ready + args.other_start - time.time()))
    other = {"spawned": time.time()}
    proc = subprocess.Popen([sys.executable, "-c", OTHER, str(args.other_device), str(args.other_idle), package_parent,
                             str(args.other_gib), str(args.other_pinned_gib)], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        other.update(json.loads(line))
    proc.wait()
    other["reaped"] = time.time()
    marks = json.loads(steady.stdout.read().strip().splitlines()[-1])["marks"]
    steady.wait()
    phases = {}
    for a, b in zip(marks, marks[1:]):
        phases.setdefault(phase_of(b, other), []).append(b - a)
    summary = {name: {"batches": len(v), "median_ms": round(1000 * statistics.median(v), 2),
                      "max_ms": round(1000 * max(v), 2), "img_s": round(256 * len(v) / sum(v))}
               for name, v in phases.items()}
    return {"other": {k: round(v - ready, 3) for k, v in other.items()}, "phases": summary}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=14.0, help="the steady loop's length")
    parser.add_argument("--device", type=int, default=0)
    parser.add_argument("--other-device", type=int, default=0)
    parser.add_argument("--other-start", type=float, default=3.0, help="seconds after the steady loop starts")
    parser.add_argument("--other-idle", type=float, default=3.0)
    parser.add_argument("--other-gib", type=float, default=8.0, help="device memory the other holds")
    parser.add_argument("--other-pinned-gib", type=float, default=1.0, help="pinned host memory the other holds")
    parser.add_argument("--package-parent", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                                 "roles", "gpu_workloads", "files"))
    args = parser.parse_args()
    results = []
    for repeat in range(args.repeats):
        result = one(args, os.path.abspath(args.package_parent))
        result["repeat"] = repeat
        print(json.dumps(result, sort_keys=True), flush=True)
        results.append(result)
    names = ["before", "other starting", "other idle", "other exiting", "after"]
    print("phase of the other process -> the steady loop's img/s by repeat (median batch ms, max batch ms)")
    for name in names:
        cells = ["%s (%s, %s)" % (r["phases"][name]["img_s"], r["phases"][name]["median_ms"], r["phases"][name]["max_ms"])
                 if name in r["phases"] else "-" for r in results]
        print("%-15s %s" % (name, " | ".join(cells)))


if __name__ == "__main__":
    main()
