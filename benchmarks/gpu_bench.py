#!/usr/bin/env python3
"""Measure the inference workload on a GPU machine, side by side, and write the raw results.

    gpu_bench.py --dataset-tool roles/nfs_server/files/jc_dataset.py --work /tmp/jcbench --out OUT

jc_infer (the workload package, roles/gpu_workloads/files/jc_infer/) and the aggregation of the
benchmark_aggregate module (plugins/module_utils/benchmark.py) are imported from this checkout,
or from the directories --infer and --module-utils name (copies carried to a GPU machine).

Stages (--stages, comma-separated, default all):
  env      machine, driver, versions, CPU count, whether DALI imports
  dataset  N unique synthetic JPEGs (jc_dataset.py generate), plus a "view" directory of R hard-linked
           copies so that a timed window lasts seconds; cold-cache read speed of the files
  micro    in one process: the model-only ceiling (eager / folded BN / CUDA graph, batch sweep, fp16 and
           bf16), nvJPEG batched decode alone, decode + GPU crop/resize, the serial (no overlap) GPU
           pipeline, Pillow decode per core, pinned host-to-device copy, the reference-style per-image
           loop (Pillow, fp32, batch 1)
  e2e      python3 -m jc_infer as separate processes, exactly as a pod runs it, in each decode mode
  hw       NVIDIA nvImageCodec (hardware JPEG decoder) when importable: decode alone, decode + GPU
           crop/resize, and jc_infer with DECODE=nvimgcodec beside DECODE=gpu and the ceiling, in one run
  multi    when >= 2 GPUs: N independent jc_infer processes, one per GPU (CUDA_VISIBLE_DEVICES),
           partitioned by JOB_COMPLETION_INDEX, aggregated against the 1-GPU run by the same code
           as the cluster's benchmark (module_utils/benchmark.py)
Every measurement is repeated (--repeats) and reported with its median. Results go to OUT/results.json
after every stage, so a run cut short still leaves what it measured. benchmarks/report.py turns the
file into the tables and the plot of docs/benchmarks.md.
"""

from __future__ import division, print_function

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

RESULTS = {}
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# Where jc_infer and module_utils/benchmark.py are, unless --infer / --module-utils say otherwise.
DEFAULT_INFER = os.path.join(ROOT, "roles", "gpu_workloads", "files")
DEFAULT_MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")


def log(msg):
    print("[bench %7.1fs] %s" % (time.time() - T0, msg), flush=True)


T0 = time.time()


def save(out, results=None):
    """Write ``results`` (this script's RESULTS by default) to OUT/results.json atomically."""
    tmp = os.path.join(out, "results.json.tmp")
    with open(tmp, "w") as handle:
        json.dump(RESULTS if results is None else results, handle, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(out, "results.json"))


def median_of(samples):
    return {"median": statistics.median(samples), "samples": samples}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception as exc:  # noqa: BLE001 - recorded, not fatal
        return "failed: %s" % exc


# --- aggregation: plugins/module_utils/benchmark.py, the benchmark_aggregate module's own code ---

def aggregate_pods(pods, baseline):
    """The N-way run's numbers against the 1-GPU run, as the cluster's benchmark computes them:
    throughput = images / makespan (slowest pod), imbalance = slowest / fastest, speedup =
    throughput / baseline throughput, efficiency = speedup / pods."""
    import benchmark  # plugins/module_utils/benchmark.py, on sys.path (main)
    return benchmark.aggregate([dict(p) for p in pods], expected_jobs=len(pods), baseline=baseline)


# --- env ----------------------------------------------------------------------------------------

def stage_env(args):
    import torch
    import torchvision
    env = {
        "python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
        "cuda_runtime": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
        "cpus": len(os.sched_getaffinity(0)), "gpus": torch.cuda.device_count(),
        "gpu_names": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "nvidia_smi": sh("nvidia-smi --query-gpu=index,name,driver_version,memory.total,pcie.link.gen.max,"
                         "pcie.link.width.max,clocks.max.sm --format=csv"),
        "topology": sh("nvidia-smi topo -m"),
        "kernel": platform.release(), "cpu_model": sh("grep -m1 'model name' /proc/cpuinfo"),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cuda_device_max_connections": os.environ.get("CUDA_DEVICE_MAX_CONNECTIONS"),
    }
    try:
        import nvidia.dali as dali
        env["dali"] = dali.__version__
    except ImportError as exc:
        env["dali"] = "not importable: %s" % exc
    try:
        from nvidia import nvimgcodec
        env["nvimgcodec"] = nvimgcodec.__version__
    except ImportError as exc:
        env["nvimgcodec"] = "not importable: %s" % exc
    RESULTS["env"] = env
    log("env: %s, torch %s, tv %s, %d CPUs, DALI %s" % (env["gpu_names"], env["torch"], env["torchvision"],
                                                       env["cpus"], env["dali"]))


# --- dataset -------------------------------------------------------------------------------------

def stage_dataset(args):
    unique = os.path.join(args.work, "unique")
    view = os.path.join(args.work, "view")
    t = time.time()
    proc = subprocess.run([sys.executable, args.dataset_tool, "generate", unique, "--count", str(args.images),
                           "--jobs", str(len(os.sched_getaffinity(0)))], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError("dataset generation failed: %s" % proc.stderr[-2000:])
    gen = json.loads(proc.stdout.strip().splitlines()[-1])
    gen_seconds = time.time() - t
    names = sorted(n for n in os.listdir(unique) if n.endswith(".jpg"))
    if not os.path.isdir(view):
        os.makedirs(view)
        for r in range(args.replicas):
            for n in names:  # r0_img_000000.jpg ...: sorted order interleaves nothing, partitions stay contiguous
                os.link(os.path.join(unique, n), os.path.join(view, "r%d_%s" % (r, n)))
    # Bad files for the error-accounting check on the GPU (not in the timed sets).
    bad = os.path.join(args.work, "bad")
    if not os.path.isdir(bad):
        os.makedirs(bad)
        for n in names[:60]:
            os.link(os.path.join(unique, n), os.path.join(bad, n))
        good = open(os.path.join(unique, names[0]), "rb").read()
        open(os.path.join(bad, "img_000005.jpg.tmp"), "wb").close()
        for n, data in (("bad_empty.jpg", b""), ("bad_garbage.jpg", os.urandom(5000)),
                        ("bad_truncated_header.jpg", good[:200]), ("bad_truncated_half.jpg", good[:len(good) // 2]),
                        ("bad_png.jpg", _png_bytes())):
            with open(os.path.join(bad, n), "wb") as handle:
                handle.write(data)
    sizes = [os.path.getsize(os.path.join(unique, n)) for n in names]
    cold = _cold_read(unique, names) if args.device == "cuda" else {"skipped": "smoke test"}
    RESULTS["dataset"] = {"unique_images": len(names), "replicas": args.replicas,
                          "view_images": len(names) * args.replicas, "generate_seconds": gen_seconds,
                          "bytes": gen["bytes"], "mean_bytes": statistics.mean(sizes),
                          "width": 500, "height": 375, "quality": 90, "cold_read": cold}
    log("dataset: %d unique JPEGs (%.1f KB mean) in %.1f s, view of %d; cold read %s"
        % (len(names), statistics.mean(sizes) / 1e3, gen_seconds, len(names) * args.replicas, cold))


def _png_bytes():
    import io
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


def _cold_read(root, names):
    """Read every file once after dropping the page cache (root in the VM): the disk's share."""
    try:
        subprocess.run("sync", shell=True)
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("3\n")
    except (IOError, OSError) as exc:
        return {"skipped": "cannot drop the page cache: %s" % exc}
    from concurrent.futures import ThreadPoolExecutor
    t = time.time()
    with ThreadPoolExecutor(8) as pool:
        total = sum(pool.map(lambda n: len(open(os.path.join(root, n), "rb").read()), names))
    seconds = time.time() - t
    return {"files": len(names), "seconds": seconds, "img_per_s": len(names) / seconds,
            "mb_per_s": total / seconds / 1e6, "threads": 8}


# --- micro -----------------------------------------------------------------------------------

def _timed(torch, fn, iters, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        end.synchronize()
        out.append(start.elapsed_time(end) / 1e3)
    return out


class Micro(object):
    """Shared set-up of the in-process measurements."""

    def __init__(self, args):
        import torch
        if not torch.cuda.is_available():
            raise RuntimeError("no CUDA device: the micro stages measure the GPU")
        import jc_infer
        self.jc = jc_infer
        self.dev = torch.device("cuda", 0)
        self.unique = os.path.join(args.work, "unique")
        self.names = sorted(n for n in os.listdir(self.unique) if n.endswith(".jpg"))

    def rt_for(self, batch, precision="fp16", graphs="on"):
        settings = self.jc.parse_settings(["--device", "cuda", "--batch-size", str(batch), "--precision", precision,
                                           "--cuda-graphs", graphs, "--mode", "synthetic"], environ={})
        rt = self.jc.Runtime(settings, {})
        rt.warm_model(2)
        rt.prepare_graph(graphs)
        return rt

    def inputs_for(self, batch, dtype):
        import torch
        return [torch.randn(batch, 3, 224, 224, device=self.dev).to(dtype=dtype, memory_format=torch.channels_last)
                for _ in range(2)]


def _infer_call(rt):
    def call(t):
        rt.infer(t)
        rt.predictions.clear()
    return call


def stage_ceiling(args):
    """Model-only throughput on device-resident random input: the ceiling the pipeline is held to."""
    import torch
    import torchvision

    m = Micro(args)
    dev, rt_for, inputs_for = m.dev, m.rt_for, m.inputs_for
    micro = RESULTS.setdefault("micro", {})
    ceiling = micro.setdefault("ceiling", {})
    imgs_per_repeat = 256 * 20

    def measure(label, batch, call, inputs):
        iters = max(4, imgs_per_repeat // batch)
        k = [0]

        def step():
            call(inputs[k[0] % len(inputs)])
            k[0] += 1
        samples = _timed(torch, step, iters, args.repeats)
        rates = [batch * iters / s for s in samples]
        ceiling[label] = median_of(rates)
        log("ceiling %-32s %8.0f img/s" % (label, ceiling[label]["median"]))

    plain = torchvision.models.resnet50().eval().to(dev, dtype=torch.float16).to(memory_format=torch.channels_last)
    torch.backends.cudnn.benchmark = True
    for batch in args.batches:
        x = inputs_for(batch, torch.float16)
        with torch.inference_mode():
            measure("eager_fp16_b%d" % batch, batch, lambda t: plain(t).argmax(1), x)
    plain = None  # free it before the next models
    # jc_infer's own model path (Runtime.infer on its compute stream), with and without a CUDA graph.
    for batch in args.batches:
        x = inputs_for(batch, torch.float16)
        for graphs in ("off", "on"):
            rt = rt_for(batch, graphs=graphs)
            with rt.compute():
                measure("jc_%s_fp16_b%d" % ("graph" if graphs == "on" else "eager", batch), batch,
                        _infer_call(rt), x)
            rt = None
    rt = rt_for(256, precision="bf16", graphs="off")
    x = inputs_for(256, torch.bfloat16)
    with rt.compute():
        measure("jc_eager_bf16_b256", 256, _infer_call(rt), x)
    rt = x = None
    if args.compile:
        try:
            model = torchvision.models.resnet50().eval()
            model = model.to(dev, dtype=torch.float16).to(memory_format=torch.channels_last)
            t = time.time()
            compiled = torch.compile(model, mode="max-autotune")
            x = inputs_for(256, torch.float16)
            with torch.inference_mode():
                compiled(x[0])
                micro["compile_seconds"] = time.time() - t
                measure("compiled_maxautotune_fp16_b256", 256, lambda t: compiled(t).argmax(1), x)
        except Exception as exc:  # noqa: BLE001
            micro["compile_error"] = str(exc)[:300]
    torch.cuda.empty_cache()


def stage_decode(args):
    """nvJPEG alone, with the GPU crop/resize, serially with the model, and concurrently with it."""
    import threading

    import torch
    from torchvision.io import ImageReadMode, decode_jpeg

    m = Micro(args)
    dev, rt_for, inputs_for, unique, names = m.dev, m.rt_for, m.inputs_for, m.unique, m.names
    micro = RESULTS.setdefault("micro", {})
    n_files = min(len(names), args.decode_images)
    blobs = [torch.frombuffer(bytearray(open(os.path.join(unique, n), "rb").read()), dtype=torch.uint8)
             for n in names[:n_files]]
    rt = rt_for(256)
    decode = micro.setdefault("decode", {})
    for batch in (64, 256, 512):
        chunks = [blobs[i:i + batch] for i in range(0, n_files - batch + 1, batch)]
        for _ in range(2):
            decode_jpeg(chunks[0], mode=ImageReadMode.RGB, device=dev)
        torch.cuda.synchronize()
        rates, rates_prep = [], []
        for _ in range(args.repeats):
            t = time.time()
            for c in chunks:
                decode_jpeg(c, mode=ImageReadMode.RGB, device=dev)
            torch.cuda.synchronize()
            rates.append(len(chunks) * batch / (time.time() - t))
            t = time.time()
            for c in chunks:
                rt.gpu_crop_resize(decode_jpeg(c, mode=ImageReadMode.RGB, device=dev))
            torch.cuda.synchronize()
            rates_prep.append(len(chunks) * batch / (time.time() - t))
        decode["nvjpeg_b%d" % batch] = median_of(rates)
        decode["nvjpeg_prep_b%d" % batch] = median_of(rates_prep)
        log("decode b%d: nvJPEG %8.0f img/s, + crop/resize %8.0f img/s" % (batch, statistics.median(rates),
                                                                            statistics.median(rates_prep)))
    chunks = [blobs[i:i + 256] for i in range(0, n_files - 255, 256)]
    rates = []
    for _ in range(args.repeats):
        t = time.time()
        for c in chunks:
            rt.infer(rt.gpu_crop_resize(decode_jpeg(c, mode=ImageReadMode.RGB, device=dev)))
            torch.cuda.synchronize()
        rates.append(len(chunks) * 256 / (time.time() - t))
        rt.predictions.clear()
    decode["serial_pipeline_b256"] = median_of(rates)
    log("serial GPU pipeline (no overlap) %8.0f img/s" % statistics.median(rates))
    # Decode on a side thread while the model runs on the main one (what jc_infer overlaps), from memory:
    # once with the model on the legacy default stream, once on a stream of its own (as jc_infer does).
    x = inputs_for(256, torch.float16)
    for where in ("default_stream", "own_stream"):
        stop = threading.Event()
        side_count = [0]

        def side_decode():
            s = torch.cuda.Stream()
            with torch.cuda.stream(s):
                while not stop.is_set():
                    for c in chunks:
                        if stop.is_set():
                            break
                        decode_jpeg(c, mode=ImageReadMode.RGB, device=dev)
                        side_count[0] += len(c)
        th = threading.Thread(target=side_decode)
        th.start()
        time.sleep(1.0)
        ctx = torch.cuda.stream(torch.cuda.Stream()) if where == "own_stream" else torch.cuda.stream(
            torch.cuda.default_stream())
        with ctx:
            torch.cuda.synchronize()
            c0, t = side_count[0], time.time()
            for i in range(40):
                rt.infer(x[i % 2])
                rt.predictions.clear()
            torch.cuda.synchronize()
        elapsed = time.time() - t
        c1 = side_count[0]
        stop.set()
        th.join()
        decode["concurrent_%s" % where] = {"model_img_per_s": 40 * 256 / elapsed,
                                           "decode_img_per_s": (c1 - c0) / elapsed}
        log("concurrent, model on %s: model %8.0f img/s while nvJPEG decodes %8.0f img/s"
            % (where, 40 * 256 / elapsed, (c1 - c0) / elapsed))
    del blobs


def stage_host(args):
    """Pillow decode + crop/resize on one core, and the pinned host-to-device copy rate."""
    import torch

    m = Micro(args)
    jc, dev, unique, names = m.jc, m.dev, m.unique, m.names
    micro = RESULTS.setdefault("micro", {})
    t = time.time()
    n = 0
    while time.time() - t < 3.0:
        jc.pil_crop_resize(os.path.join(unique, names[n % len(names)]))
        n += 1
    micro["pil_per_core_img_per_s"] = n / (time.time() - t)
    host = torch.empty(256 * 1024 * 1024, dtype=torch.uint8).pin_memory()
    devbuf = torch.empty_like(host, device=dev)
    samples = _timed(torch, lambda: devbuf.copy_(host, non_blocking=True), 5, args.repeats)
    micro["h2d_pinned_gb_per_s"] = median_of([5 * host.numel() / s / 1e9 for s in samples])
    host = devbuf = None
    log("Pillow decode+crop/resize %.0f img/s per core; pinned H2D %.1f GB/s"
        % (micro["pil_per_core_img_per_s"], micro["h2d_pinned_gb_per_s"]["median"]))


def stage_reference(args):
    """The reference cluster's loop: Pillow, torchvision transforms, fp32, batch 1, a sync per image."""
    import torch
    import torchvision
    from PIL import Image

    m = Micro(args)
    jc, dev, unique, names = m.jc, m.dev, m.unique, m.names
    micro = RESULTS.setdefault("micro", {})
    import torchvision.transforms as T
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize(mean=jc.MEAN, std=jc.STD)])
    model = torchvision.models.resnet50().eval().to(dev)
    paths = [os.path.join(unique, nm) for nm in names]
    k = 0
    rates = []
    with torch.no_grad():
        for _ in range(10):  # warm-up
            model(tf(Image.open(paths[k]).convert("RGB")).unsqueeze(0).to(dev)).argmax(1).item()
            k += 1
        for _ in range(args.repeats):
            t, done = time.time(), 0
            while time.time() - t < args.reference_seconds:
                model(tf(Image.open(paths[k % len(paths)]).convert("RGB")).unsqueeze(0).to(dev)).argmax(1).item()
                k += 1
                done += 1
            rates.append(done / (time.time() - t))
    micro["reference_loop"] = median_of(rates)
    micro["reference_loop"]["images"] = k
    log("reference-style loop %.1f img/s" % statistics.median(rates))
    del model
    torch.cuda.empty_cache()


# --- end to end: python3 -m jc_infer as processes -----------------------------------------------------

def run_infer(args, env, gpu, label, log_name):
    full = dict(os.environ)
    full.update({k: str(v) for k, v in env.items()})
    full["CUDA_VISIBLE_DEVICES"] = str(gpu)
    full["PYTHONUNBUFFERED"] = "1"
    err = open(os.path.join(args.out, "logs", log_name), "w")
    t = time.time()
    full["PYTHONPATH"] = os.pathsep.join([args.infer] + [p for p in [full.get("PYTHONPATH")] if p])
    proc = subprocess.Popen([sys.executable, "-m", "jc_infer"], env=full, stdout=subprocess.PIPE, stderr=err,
                            text=True)
    return proc, t, err, label


def finish(proc_tuple):
    proc, t, err, label = proc_tuple
    out, t_line = [], None
    for line in proc.stdout:  # line by line, to see when the result line arrives
        out.append(line)
        if line.startswith("{"):
            t_line = time.time()
    proc.wait()
    t_exit = time.time()
    err.close()
    out = "".join(out)
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        raise RuntimeError("%s: exit %s, stdout %r" % (label, proc.returncode, out[-500:]))
    result = json.loads(lines[-1])
    result["wall_seconds"] = t_exit - t
    result["result_to_exit_seconds"] = t_exit - t_line  # the process's teardown, seen by its parent
    return result


def e2e_runs(args, label, env, repeats, gpu=0):
    runs = []
    for r in range(repeats):
        res = finish(run_infer(args, env, gpu, label, "%s_%d.log" % (label, r)))
        runs.append(res)
        log("%-28s run %d: %6d img, %3d err, %7.3f s, %8.0f img/s, warm-up %.2f s, startup %.2f s, wall %.1f s"
            % (label, r, res["images"], res["errors"], res["seconds"], res["throughput"], res["warmup_seconds"],
               res["startup_seconds"], res["wall_seconds"]))
    summary = median_of([r["throughput"] for r in runs])
    summary["runs"] = runs
    summary["env"] = env
    RESULTS.setdefault("e2e", {})[label] = summary
    save(args.out)
    return summary


E2E_DEFAULT = "gpu_decode_b256,gpu_decode_b256_conn8,cpu_decode_b256,synthetic_b256,dali_b256,gpu_decode_badfiles"


def stage_e2e(args):
    """jc_infer processes, one variant after another (--e2e picks them, in this order)."""
    view = os.path.join(args.work, "view")
    base = {"WORKLOAD_MODE": "files", "IMAGE_DIR": view, "BATCH_SIZE": 256, "DEVICE": args.device}
    images = RESULTS["dataset"]["view_images"]
    # name -> (environment, repeats). jc_infer's defaults: nvJPEG in-process, no CUDA graph,
    # CUDA_DEVICE_MAX_CONNECTIONS=32 (set by jc_infer when unset); "conn8" is CUDA's default of 8
    # queues, as every run before run 5 had.
    variants = {
        "gpu_decode_b256": (dict(base, DECODE="gpu"), args.repeats),
        "gpu_decode_b256_conn8": (dict(base, DECODE="gpu", CUDA_DEVICE_MAX_CONNECTIONS=8), args.repeats),
        "gpu_decode_b256_graphs": (dict(base, DECODE="gpu", CUDA_GRAPHS="on"), args.repeats),
        "gpu_decode_b512": (dict(base, DECODE="gpu", BATCH_SIZE=512), 1),
        "gpu_decode_b128": (dict(base, DECODE="gpu", BATCH_SIZE=128), 1),
        "cpu_decode_b256": (dict(base, DECODE="cpu", TOTAL_IMAGES=min(images, args.cpu_images)), args.repeats),
        "synthetic_b256": ({"WORKLOAD_MODE": "synthetic", "TOTAL_IMAGES": images, "BATCH_SIZE": 256,
                            "DEVICE": args.device}, 1),
        "synthetic_b256_graphs": ({"WORKLOAD_MODE": "synthetic", "TOTAL_IMAGES": images, "BATCH_SIZE": 256,
                                   "DEVICE": args.device, "CUDA_GRAPHS": "on"}, 1),
        "dali_b256": (dict(base, DECODE="dali"), 1),
        # Error accounting on the GPU path: 60 good images and 5 bad files.
        "gpu_decode_badfiles": (dict(base, DECODE="gpu", IMAGE_DIR=os.path.join(args.work, "bad"), BATCH_SIZE=32), 1),
    }
    for name in [n for n in args.e2e.split(",") if n]:
        if name not in variants:
            raise ValueError("unknown e2e variant %s (known: %s)" % (name, ", ".join(variants)))
        if name == "dali_b256" and str(RESULTS.get("env", {}).get("dali", "not")).startswith("not"):
            continue
        env, repeats = variants[name]
        res = e2e_runs(args, name, env, repeats)
        if name == "gpu_decode_badfiles":
            log("bad files: %s" % res["runs"][0]["error_samples"])


def _hw_micro(args, hw):
    import torch
    m = Micro(args)
    n_files = min(len(m.names), args.decode_images)
    blobs = [open(os.path.join(m.unique, n), "rb").read() for n in m.names[:n_files]]
    rt = m.rt_for(256, graphs="off")
    dec = m.jc.HardwareJpegDecoder(rt)
    side = torch.cuda.Stream()
    for batch in (64, 256):
        chunks = [blobs[i:i + batch] for i in range(0, n_files - batch + 1, batch)]
        with torch.cuda.stream(side):
            for _ in range(2):
                dec.decode(chunks[0])
            torch.cuda.synchronize()
            rates, rates_prep = [], []
            for _ in range(args.repeats):
                t = time.time()
                for c in chunks:
                    images, failed = dec.decode(c)
                torch.cuda.synchronize()
                rates.append(len(chunks) * batch / (time.time() - t))
                if failed:
                    hw["failed_in_decode_b%d" % batch] = len(failed)
                t = time.time()
                for c in chunks:
                    rt.gpu_crop_resize(dec.decode(c)[0])
                torch.cuda.synchronize()
                rates_prep.append(len(chunks) * batch / (time.time() - t))
        hw["decode_b%d" % batch] = median_of(rates)
        hw["decode_prep_b%d" % batch] = median_of(rates_prep)
        log("nvImageCodec b%d: decode %8.0f img/s, + crop/resize %8.0f img/s"
            % (batch, statistics.median(rates), statistics.median(rates_prep)))


def stage_hw(args):
    """The GPU's hardware JPEG decoder through nvImageCodec: alone, with the crop/resize, then
    end to end beside torchvision's nvJPEG path, so both are compared with the same ceiling."""
    import torch
    try:
        from nvidia import nvimgcodec  # noqa: F401 - optional; the stage says so when missing
    except ImportError as exc:
        RESULTS["hw"] = {"skipped": "nvImageCodec not importable: %s" % exc}
        return
    hw = RESULTS.setdefault("hw", {})
    try:
        _hw_micro(args, hw)
    except Exception as exc:  # noqa: BLE001 - the end-to-end runs below still tell
        import traceback
        traceback.print_exc()
        hw["micro_error"] = "%s: %s" % (type(exc).__name__, exc)
    torch.cuda.empty_cache()
    save(args.out)
    view = os.path.join(args.work, "view")
    base = {"WORKLOAD_MODE": "files", "IMAGE_DIR": view, "BATCH_SIZE": 256, "DEVICE": args.device}
    e2e_runs(args, "gpu_decode_b256_inprocess", dict(base, DECODE="gpu", DECODE_PROCESS="off"), args.repeats)
    e2e_runs(args, "nvimgcodec_b256", dict(base, DECODE="nvimgcodec"), args.repeats)
    res = e2e_runs(args, "nvimgcodec_badfiles", dict(base, DECODE="nvimgcodec",
                                                      IMAGE_DIR=os.path.join(args.work, "bad"), BATCH_SIZE=32), 1)
    log("bad files (nvimgcodec): %s" % res["runs"][0]["error_samples"])


def stage_multi(args):
    """1 process on GPU 0, then N processes at once, one per GPU, as the Indexed Job runs them. Each
    process gets the CPU share of one 16-core machine (NUM_WORKERS=--workers-per-gpu), so the single
    and the N-way runs have the same resources per GPU."""
    import torch
    gpus = torch.cuda.device_count()
    if gpus < 2:
        RESULTS["multi"] = {"skipped": "%d GPU(s)" % gpus}
        return
    view = os.path.join(args.work, "view")
    multi = RESULTS.setdefault("multi", {})
    for workers in args.multi_workers:
        env = {"WORKLOAD_MODE": "files", "IMAGE_DIR": view, "BATCH_SIZE": 256, "DEVICE": "cuda", "DECODE": "gpu"}
        if workers >= 0:
            env["NUM_WORKERS"] = workers
        single = e2e_runs(args, "multi_baseline_%s" % ("default" if workers < 0 else "w%d" % workers), env,
                          args.repeats)["runs"]
        base_run = sorted(single, key=lambda x: x["throughput"])[len(single) // 2]
        trials = []
        for r in range(args.repeats):
            t = time.time()
            procs = [run_infer(args, dict(env, TOTAL_JOBS=gpus, JOB_COMPLETION_INDEX=i), i, "multi_%d" % i,
                               "multi_w%d_n%d_r%d_i%d.log" % (workers, gpus, r, i)) for i in range(gpus)]
            pods = [finish(p) for p in procs]
            wall = time.time() - t
            agg = aggregate_pods(pods, {"images": base_run["images"], "seconds": base_run["seconds"]})
            agg["wall_seconds"] = wall
            agg["wall_speedup"] = base_run["wall_seconds"] / wall
            agg["pods_raw"] = pods
            trials.append(agg)
            log("w%d x%d run %d: %8.0f img/s, makespan %.3f s, speedup %.3f, efficiency %.3f, imbalance %.3f,"
                " wall %.1f s (speedup incl. start-up %.2f)" % (workers, gpus, r, agg["throughput"],
                                                                 agg["makespan_seconds"], agg["speedup"],
                                                                 agg["efficiency"], agg["imbalance"], wall,
                                                                 agg["wall_speedup"]))
        multi["gpu_%s_n%d" % ("default" if workers < 0 else "w%d" % workers, gpus)] = {
            "workers": workers, "gpus": gpus, "baseline": base_run,
            "efficiency": median_of([t_["efficiency"] for t_ in trials]),
            "throughput": median_of([t_["throughput"] for t_ in trials]),
            "imbalance": median_of([t_["imbalance"] for t_ in trials]),
            "speedup": median_of([t_["speedup"] for t_ in trials]),
            "wall_speedup": median_of([t_["wall_speedup"] for t_ in trials]),
            "trials": trials}
        save(args.out)


STAGES = ("env", "dataset", "ceiling", "decode", "host", "reference", "e2e", "hw", "multi")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--infer", default=DEFAULT_INFER, help="directory holding the jc_infer package")
    parser.add_argument("--module-utils", default=DEFAULT_MODULE_UTILS,
                        help="directory holding benchmark.py (the collection's plugins/module_utils)")
    parser.add_argument("--dataset-tool", required=True)
    parser.add_argument("--work", default="/tmp/jcbench")
    parser.add_argument("--out", required=True)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--device", default="cuda", help="cpu: a smoke test of the e2e stages without a GPU")
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--replicas", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=lambda s: [int(x) for x in s.split(",")], default=[128, 256, 512])
    parser.add_argument("--multi-workers", type=lambda s: [int(x) for x in s.split(",")], default=[-1],
                        help="NUM_WORKERS per process in the multi-GPU runs (-1: jc_infer's default)")
    parser.add_argument("--e2e", default=E2E_DEFAULT, help="comma-separated e2e variants (see stage_e2e)")
    parser.add_argument("--cpu-images", type=int, default=10000)
    parser.add_argument("--decode-images", type=int, default=5120)
    parser.add_argument("--reference-seconds", type=float, default=4.0)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (slow to build)")
    args = parser.parse_args()
    args.infer, args.module_utils = os.path.abspath(args.infer), os.path.abspath(args.module_utils)
    sys.path[:0] = [args.infer, args.module_utils]
    import jc_infer
    # The in-process stages use the queue count jc_infer sets for itself, before CUDA starts.
    jc_infer.set_cuda_connections()
    os.makedirs(os.path.join(args.out, "logs"), exist_ok=True)
    os.makedirs(args.work, exist_ok=True)
    prev = os.path.join(args.out, "results.json")
    if os.path.exists(prev):
        RESULTS.update(json.load(open(prev)))
    RESULTS["args"] = vars(args)
    stages = args.stages.split(",")
    for name in STAGES:
        if name in stages:
            t = time.time()
            try:
                globals()["stage_" + name](args)
            except Exception as exc:  # noqa: BLE001 - keep what the other stages measure
                import traceback
                traceback.print_exc()
                RESULTS.setdefault("failures", {})[name] = "%s: %s" % (type(exc).__name__, exc)
            RESULTS.setdefault("stage_seconds", {})[name] = time.time() - t
            save(args.out)
    log("done")


if __name__ == "__main__":
    main()
