#!/usr/bin/env python3
"""Workload III's ResNet-50 split as gRPC stages on one machine with 2 GPUs (or on one GPU, with
--one-gpu), against data parallelism and one GPU (issue 13; results in docs/benchmarks.md):

  split2     2 split-stage processes, stage i on cuda:i, gRPC over 127.0.0.1, the cut chosen by
             split_plan.plan from block times measured here and --link-gbyte, written as the
             placement file (layer ranges per host) the stages are started with
  chain1     the same machinery with one stage (the whole model) on cuda:0: unsplit, same code
  jc_infer1  python3 -m jc_infer --mode synthetic, 1 process on GPU 0 (TOTAL_JOBS=1)
  jc_infer2  the Indexed Job's data parallelism: 2 jc_infer processes at once, one per GPU
             (CUDA_VISIBLE_DEVICES=--infer-gpus[i], JOB_COMPLETION_INDEX=i, TOTAL_JOBS=2)

--one-gpu (= --devices cuda:0,cuda:0 --infer-gpus 0,0): the same variants on equal hardware, one
GPU: split2's two stages are two processes on cuda:0, jc_infer2's two processes share GPU 0.
The planner still assumes a device per stage; results["plan"]["shared_device_bound_fps"] is its
bound when stages share a device (their compute adds up there): 1 / max(the slowest stage's
time, the whole model's compute).

jc_infer processes run --infer-images images each (default --images): long enough that the two
processes' windows overlap although they start (import torch) at different times. A run's fps is
the job's images over the span of its windows (the first window's start to the last one's end,
from the result lines' timeline), so time in which only one process was in its window is not
counted as if both were; sum_fps (their own rates added) and overlap (the windows' common part
over the longer window) are recorded beside it.

Every variant: float32 weights (torch's default TF32 convolutions), batch --batch, --images
images of 224 x 224, eager (no CUDA graph), median of --repeats. The chains run one untimed
warm-up stream of the same key first (cuDNN, allocator; stage 0 keeps its inputs on the GPU,
--input-cache-mb), then --repeats timed streams; their fps is images/s between the first and
the last batch's arrival at the sink. jc_infer's is its own timed window after its warm-up.

    python3 benchmarks/resnet_split_bench.py --out DIR [--images 4096 --batch 64 --repeats 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "roles", "pipeline_workload", "files"))

from jc_pipeline import metrics, resnet_split, split_plan, split_stage  # noqa: E402
from jc_pipeline.local import LocalChain  # noqa: E402

INFER = os.path.join(ROOT, "roles", "gpu_workloads", "files")


def log(text):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), text))
    sys.stderr.flush()


def write_placement(path, ranges, hosts):
    # JSON is YAML: the stages read it with either parser.
    with open(path, "w") as handle:
        json.dump({"stages": [{"host": h, "layers": [r[0], r[-1]]} for h, r in zip(hosts, ranges)]}, handle)
    return path


def chain_variant(args, label, placement, devices):
    key = "%dx%d,seed=1" % (args.size, args.size)
    split = ["--placement", placement, "--batch", str(args.batch), "--input-cache-mb", str(args.input_cache_mb)]
    extra = dict((i, ["--device", d]) for i, d in enumerate(devices))
    runs = []
    with LocalChain(len(devices), split=split, extra_args=extra, start_timeout=300, connect_timeout=120) as chain:
        started = time.time()
        split_stage.pull(chain.last, key, args.images, args.batch)
        log("%s warm-up stream %.1f s" % (label, time.time() - started))
        for repeat in range(args.repeats):
            report = split_stage.pull(chain.last, key, args.images, args.batch)
            log("%s run %d: %.0f img/s, bound %.0f, slowest %s" % (label, repeat, report["fps"], report["bound_fps"],
                                                                   report["slowest_stage"]))
            runs.append(report)
        logs = [chain.log(i) for i in range(len(devices))]
    top1 = runs[-1]["top1"]
    for run in runs:
        run.pop("top1")
    return {"fps": statistics.median(r["fps"] for r in runs), "runs": runs, "top1": top1, "stage_logs_tail":
            [text[-1500:] for text in logs]}


def job_rate(results):
    """(fps over the span of the windows, sum of the processes' own fps, overlap) of jc_infer
    result lines run at once: images / (the last window's end - the first window's start); the
    overlap is the windows' common time over the longest window (1.0 for one process)."""
    images = sum(r["images"] for r in results)
    starts = [r["timeline"]["window_start"] for r in results]
    ends = [r["timeline"]["window_end"] for r in results]
    span = max(ends) - min(starts)
    common = max(0.0, min(ends) - max(starts))
    longest = max(e - s for s, e in zip(starts, ends))
    return (images / span if span > 0 else float("nan"), sum(r["throughput"] for r in results),
            common / longest if longest > 0 else float("nan"))


def infer_process(args, gpu, index, jobs):
    per = args.infer_images or args.images
    env = dict(os.environ, CUDA_VISIBLE_DEVICES=str(gpu), JOB_COMPLETION_INDEX=str(index), TOTAL_JOBS=str(jobs),
               WORKLOAD_MODE="synthetic", TOTAL_IMAGES=str(per * jobs), BATCH_SIZE=str(args.batch),
               PRECISION="fp32", DEVICE="cuda", CUDA_GRAPHS="off", PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([INFER] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    return subprocess.Popen([sys.executable, "-m", "jc_infer"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)


def infer_variant(args, label, gpus):
    runs = []
    for repeat in range(args.repeats):
        procs = [infer_process(args, gpu, i, len(gpus)) for i, gpu in enumerate(gpus)]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            lines = [ln for ln in out.splitlines() if ln.startswith("{")]
            if proc.returncode or not lines:
                raise RuntimeError("%s: exit %s: %s" % (label, proc.returncode, err[-1500:]))
            results.append(json.loads(lines[-1]))
            print(lines[-1])  # the raw result line, as printed
        fps, summed, overlap = job_rate(results)
        log("%s run %d: %.0f img/s over the windows' span (summed %.0f: %s; overlap %.2f)" % (
            label, repeat, fps, summed, ", ".join("%.0f" % r["throughput"] for r in results), overlap))
        runs.append({"fps": fps, "sum_fps": summed, "overlap": overlap, "processes": results})
    return {"fps": statistics.median(r["fps"] for r in runs), "sum_fps": statistics.median(r["sum_fps"] for r in runs),
            "runs": runs, "gpus": [str(g) for g in gpus]}


def shared_device_bound(chosen, blocks):
    """images/s at most when every stage runs on one device: its compute adds up there, so the
    bound is 1 / max(the slowest stage's service time, the whole model's compute per image)."""
    return 1.0 / max(1.0 / chosen["bound_fps"], sum(blocks.values()))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--link-gbyte", type=float, default=2.0,
                        help="gRPC's bytes/s over 127.0.0.1 for the planner, GB/s")
    parser.add_argument("--input-cache-mb", type=int, default=4096)
    parser.add_argument("--devices", default="cuda:0,cuda:1", help="the devices of the stages (cpu,cpu: a smoke test)")
    parser.add_argument("--infer-gpus", default="0,1", help="CUDA_VISIBLE_DEVICES of jc_infer2's processes "
                        "(jc_infer1 uses the first)")
    parser.add_argument("--infer-images", type=int, default=0, help="images per jc_infer process (0: --images)")
    parser.add_argument("--one-gpu", action="store_true",
                        help="equal hardware on one GPU: --devices cuda:0,cuda:0 --infer-gpus 0,0 (overrides both)")
    parser.add_argument("--variants", default="split2,chain1,jc_infer1,jc_infer2")
    args = parser.parse_args(argv)
    if args.one_gpu:
        args.devices, args.infer_gpus = "cuda:0,cuda:0", "0,0"
    return args


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    import torch

    devices = args.devices.split(",")
    infer_gpus = args.infer_gpus.split(",")
    results = {"args": vars(args), "torch": torch.__version__, "gpus": [torch.cuda.get_device_name(i)
                                                                         for i in range(torch.cuda.device_count())]}
    # The planner's input: per-block seconds per image on the first device, bytes per image at each cut.
    model = split_stage.build_model(0).to(devices[0])
    batch = torch.rand(args.batch, 3, args.size, args.size, device=devices[0])
    blocks = resnet_split.time_blocks(model, batch, repeats=10)
    del model, batch
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    cut_bytes = split_plan.output_bytes(args.size)
    chosen = split_plan.plan(blocks, cut_bytes, args.link_gbyte * 1e9, 2)
    log(chosen["explanation"])
    results["plan"] = {"block_seconds_per_image": blocks, "cut_bytes_per_image": cut_bytes,
                       "link_bytes_per_s": args.link_gbyte * 1e9, "cuts": chosen["cuts"],
                       "stage_times": chosen["stage_times"], "bound_fps": chosen["bound_fps"],
                       "alternatives": chosen["alternatives"], "explanation": chosen["explanation"],
                       "shared_device_bound_fps": shared_device_bound(chosen, blocks)}
    if len(set(devices[:2])) < 2:
        log("both stages on %s: bound %.0f img/s (the whole model's compute, %.1f us per image, against the "
            "slowest stage's %.1f us)" % (devices[0], results["plan"]["shared_device_bound_fps"],
                                          1e6 * sum(blocks.values()), 1e6 / chosen["bound_fps"]))
    two = write_placement(os.path.join(args.out, "placement_split2.yaml"), chosen["ranges"], ["gpu0", "gpu1"])
    one = write_placement(os.path.join(args.out, "placement_chain1.yaml"), [split_plan.BLOCKS], ["gpu0"])
    wanted = args.variants.split(",")
    variants = {}

    def save():
        results["variants"] = variants
        with open(os.path.join(args.out, "resnet_split.json"), "w") as handle:
            handle.write(metrics.to_json(results))

    for name in wanted:
        log("variant %s" % name)
        if name == "split2":
            variants[name] = chain_variant(args, name, two, devices[:2])
        elif name == "chain1":
            variants[name] = chain_variant(args, name, one, devices[:1])
        elif name == "jc_infer1":
            variants[name] = infer_variant(args, name, infer_gpus[:1])
        elif name == "jc_infer2":
            variants[name] = infer_variant(args, name, infer_gpus[:2])
        save()
    if "split2" in variants and "chain1" in variants:
        a, b = variants["split2"].pop("top1"), variants["chain1"].pop("top1")
        results["top1_agreement_split2_vs_chain1"] = sum(x == y for x, y in zip(a, b)) / float(len(a))
    for v in variants.values():
        v.pop("top1", None)
    save()
    print(json.dumps(dict((k, v["fps"]) for k, v in variants.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
