#!/usr/bin/env python3
"""Issue 15: what the 0.37-0.45 s from a pod's result line to its exit is made of.

jc_infer flushes its result line and leaves with os._exit (no interpreter teardown), and still the
parent sees the process end 0.37-0.45 s after the line (runs 7-9). What is left is the kernel's
teardown of the process: its memory mappings (torch's libraries, pinned host memory) and the CUDA
context (device memory, streams, nvJPEG's and cuDNN's handles) when the driver's file descriptors
close. This probe times that from the parent (the line's arrival to the process reaped), for
processes that hold more and more of what a pod holds:

    bare            python, print, os._exit
    torch           + import torch
    cuda            + a CUDA context (one tensor on the GPU)
    model           + ResNet-50 fp16 on the GPU, one forward of batch 256 (cuDNN, cuBLAS, activations)
    jc_infer        python3 -m jc_infer on --images files (nvJPEG pipeline, CUDA graph, reader threads)
    jc_infer_empty  the same through main(), then torch.cuda.empty_cache() and the pinned-memory cache
                    emptied before os._exit: the teardown moved before the exit, timed on both sides
and, to find what jc_infer adds to `model`: model_conn32 (CUDA_DEVICE_MAX_CONNECTIONS=32, as jc_infer
sets it), model_streams (4 more streams), model_graph (the model captured and replayed as a CUDA
graph), model_nvjpeg (256 of the files decoded by nvJPEG through jc_infer's ImageOps), jc_infer_conn8
(jc_infer with CUDA's default 8 connections).

    PYTHONPATH=roles/gpu_workloads/files python3 benchmarks/exit_cost_probe.py --image-dir DIR --repeats 5
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PRELUDE = "import json, os, sys, time\n"
FINISH = ("sys.stdout.write(json.dumps({'mode': MODE}) + '\\n'); sys.stdout.flush()\n"
          "sys.stderr.write('exit_call %.6f\\n' % time.time()); sys.stderr.flush()\nos._exit(0)\n")
CHILDREN = {
    "bare": "",
    "torch": "import torch\n",
    "cuda": "import torch\ntorch.empty(1, device='cuda'); torch.cuda.synchronize()\n",
    "model": ("import torch\nfrom jc_infer.resnet import resnet50\n"
              "m = resnet50(torch, device=torch.device('cuda')).half().to(memory_format=torch.channels_last).eval()\n"
              "x = torch.randn(256, 3, 224, 224, device='cuda').half().to(memory_format=torch.channels_last)\n"
              "with torch.inference_mode():\n    m(x)\ntorch.cuda.synchronize()\n"),
}
MODEL = CHILDREN["model"]
CHILDREN.update({
    # what jc_infer adds to `model`, one thing at a time
    "model_conn32": "os.environ['CUDA_DEVICE_MAX_CONNECTIONS'] = '32'\n" + MODEL,
    "model_streams": MODEL + "streams = [torch.cuda.Stream() for _ in range(4)]\n"
                             "for st in streams:\n    with torch.cuda.stream(st):\n        torch.ones(1, device='cuda')\n"
                             "torch.cuda.synchronize()\n",
    "model_graph": MODEL + ("g = torch.cuda.CUDAGraph()\ns = torch.cuda.Stream()\ns.wait_stream(torch.cuda.current_stream())\n"
                            "with torch.inference_mode():\n    with torch.cuda.stream(s):\n        m(x)\n"
                            "    torch.cuda.current_stream().wait_stream(s)\n    with torch.cuda.graph(g):\n        y = m(x)\n"
                            "    g.replay()\ntorch.cuda.synchronize()\n"),
    "model_nvjpeg": MODEL + ("from jc_infer.tvimage import ImageOps\nops = ImageOps(torch)\n"
                             "names = sorted(os.listdir(os.environ['IMAGE_DIR']))[:256]\n"
                             "data = [torch.frombuffer(bytearray(open(os.path.join(os.environ['IMAGE_DIR'], n), 'rb').read()), "
                             "dtype=torch.uint8) for n in names if n.endswith('.jpg')]\n"
                             "out = ops.decode_jpeg(data, torch.device('cuda'))\ntorch.cuda.synchronize()\n"),
})
JC_INFER_EMPTY = (
    "import json, os, sys, time\nfrom jc_infer.workload import main\ncode = main()\nsys.stdout.flush()\n"
    "import torch\nt = time.time(); torch.cuda.synchronize(); torch.cuda.empty_cache()\n"
    "host = getattr(torch._C, '_host_emptyCache', None)\nif host: host()\n"
    "sys.stderr.write('released %.3f\\n' % (time.time() - t)); sys.stderr.write('exit_call %.6f\\n' % time.time())\n"
    "sys.stderr.flush()\nos._exit(code)\n")


def run_one(mode, args, env):
    if mode in CHILDREN:
        cmd = [sys.executable, "-c", PRELUDE + "MODE = %r\n" % mode + CHILDREN[mode] + FINISH]
    elif mode in ("jc_infer", "jc_infer_conn8"):
        cmd = [sys.executable, "-m", "jc_infer"]
        if mode == "jc_infer_conn8":  # CUDA's default number of connections (jc_infer sets 32 unless told)
            env = dict(env, CUDA_DEVICE_MAX_CONNECTIONS="8")
    else:
        cmd = [sys.executable, "-c", JC_INFER_EMPTY]
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line_at = None
    for line in proc.stdout:
        if line.startswith("{"):
            line_at = time.time()
    err = proc.stderr.read()
    proc.wait()
    reaped = time.time()
    if proc.returncode != 0 or line_at is None:
        raise SystemExit("%s failed (%s): %s" % (mode, proc.returncode, err[-2000:]))
    exit_call = [float(x.split()[1]) for x in err.splitlines() if x.startswith("exit_call ")]
    released = [float(x.split()[1]) for x in err.splitlines() if x.startswith("released ")]
    return {"mode": mode, "wall": reaped - start, "line_to_reaped": reaped - line_at,
            "exit_call_to_reaped": (reaped - exit_call[0]) if exit_call else None,
            "released": released[0] if released else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-dir", required=True)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--modes", default="bare,torch,cuda,model,jc_infer,jc_infer_empty")
    args = parser.parse_args()
    env = dict(os.environ, IMAGE_DIR=args.image_dir, TOTAL_IMAGES=str(args.images))
    modes = [m for m in args.modes.split(",") if m]
    rows = dict((m, []) for m in modes)
    for r in range(args.repeats):
        for mode in (modes if r % 2 == 0 else modes[::-1]):
            row = run_one(mode, args, env)
            rows[mode].append(row)
            print(json.dumps(dict(row, round=r)), flush=True)
    for mode in modes:
        items = rows[mode]

        def med(key):
            values = [x[key] for x in items if x[key] is not None]
            return "%.3f (%.3f-%.3f)" % (statistics.median(values), min(values), max(values)) if values else "-"
        print("%-15s line->reaped %s, exit call->reaped %s, released before exit %s"
              % (mode, med("line_to_reaped"), med("exit_call_to_reaped"), med("released")), flush=True)


if __name__ == "__main__":
    main()
