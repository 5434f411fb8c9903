#!/usr/bin/env python3
"""Is a pod's start-up longer when two start at once, and which part (issue 15)? On the GPU machine:
    python3 benchmarks/concurrent_start_probe.py --package-parent roles/gpu_workloads/files --rounds 3
Fresh processes, K (1 or 2, one per GPU) started at once, modes interleaved per round:
    torch          `import torch` alone
    cuinit         jc_infer.cudainit's driver initialisation alone (cuInit + primary context; no torch)
    torch+cuinit   both as jc_infer does it (the driver's initialisation in a thread beside the import)
Each child prints its import and cuInit seconds, its CPU time (user, system) and minor page faults;
one JSON line per child to stdout, a summary (medians per mode and K) to stderr."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, os, resource, sys, time
t0 = time.time()
mode = sys.argv[1]
out = {"mode": mode}
pre = None
if "cuinit" in mode:
    from jc_infer.cudainit import CudaPreinit
    pre = CudaPreinit({"device": "auto"})
if "torch" in mode:
    t = time.time()
    import torch
    out["import_torch"] = time.time() - t
if pre is not None:
    out["join_wait"] = pre.join()
    out["cuinit"] = pre.seconds
    out["cuinit_state"] = pre.state
r = resource.getrusage(resource.RUSAGE_SELF)
out.update({"total": time.time() - t0, "user": r.ru_utime, "system": r.ru_stime, "minflt": r.ru_minflt})
print(json.dumps(out))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package-parent", required=True, help="directory holding the jc_infer package")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="torch,cuinit,torch+cuinit")
    parser.add_argument("--gpus", type=int, default=2, help="K = 1 .. this many processes at once")
    args = parser.parse_args()
    rows = []
    for r in range(args.rounds):
        for mode in args.modes.split(","):
            for k in range(1, args.gpus + 1):
                procs = []
                for i in range(k):
                    env = dict(os.environ, CUDA_VISIBLE_DEVICES=str(i), PYTHONPATH=os.path.abspath(args.package_parent))
                    procs.append((time.time(), subprocess.Popen([sys.executable, "-c", CHILD, mode], env=env,
                                                                stdout=subprocess.PIPE, text=True)))
                for i, (t, proc) in enumerate(procs):
                    line = proc.communicate()[0].strip().splitlines()[-1]
                    row = dict(json.loads(line), k=k, pod=i, round=r, wall=time.time() - t)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    for mode in args.modes.split(","):
        for k in range(1, args.gpus + 1):
            sel = [x for x in rows if x["mode"] == mode and x["k"] == k]
            med = dict((key, statistics.median([x[key] for x in sel])) for key in
                       ("import_torch", "cuinit", "total", "user", "system", "minflt") if sel and key in sel[0])
            sys.stderr.write("%-13s K=%d (%d processes): %s\n" % (
                mode, k, len(sel), ", ".join("%s %.3f" % (key, v) if key != "minflt" else "%s %d" % (key, v)
                                             for key, v in med.items())))


if __name__ == "__main__":
    main()
