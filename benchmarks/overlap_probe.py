#!/usr/bin/env python3
"""Why does JPEG decode not overlap the model on the GPU?  Probes, in one process, on a GPU machine:

    python3 benchmarks/overlap_probe.py --dataset-tool roles/nfs_server/files/jc_dataset.py --out OUT

For each decoder (torchvision's decode_jpeg; NVIDIA nvJPEG called directly through ctypes with the
hardware backend, once with nvJPEG's own cudaMalloc/cudaFree allocators and once with PyTorch's
caching allocators):
  alone     batched decode rate, from bytes in memory
  sleep     does a decode wait for unrelated GPU work?  A ~200 ms sleep kernel is queued on one
            stream, then one decode batch runs on another; if the sleep kernel has finished when the
            decode returns, and the decode took about as long as the sleep, it waited (an implicit
            device-wide synchronisation, e.g. cudaFree). Positive control: torch.cuda.empty_cache()
            after freeing a fresh block (cudaFree); negative control: a small kernel.
  overlap   the model (a CUDA graph, at most two batches in flight) in the main thread while a
            second thread decodes: both rates
  pipeline  decode + GPU crop/resize/normalize in a thread, the model in the main thread, from
            memory: img/s
Results go to OUT/probe.json; the log to stdout. CUDA_DEVICE_MAX_CONNECTIONS is taken from the
environment as it is (CUDA's default is 8): probes 1-4 ran without it, probe 5 with
`CUDA_DEVICE_MAX_CONNECTIONS=32 ... --green` (no green-context variants).
"""

from __future__ import division, print_function

import argparse
import glob
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = {}
T0 = time.time()


def log(msg):
    print("[probe %6.1fs] %s" % (time.time() - T0, msg), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset-tool", required=True)
    ap.add_argument("--infer", default=os.path.join(HERE, "..", "roles", "gpu_workloads", "files"),
                    help="directory holding the jc_infer package")
    ap.add_argument("--out", required=True)
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--green", type=int, nargs="*", default=[128, 120, 112],
                    help="model SM partitions (green contexts) to try")
    ap.add_argument("--skip", nargs="*", default=[], help="decoder variants to leave out")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    work = "/tmp/probe_imgs"
    if not os.path.isdir(work):
        subprocess.check_call([sys.executable, args.dataset_tool, "generate", "--count", str(args.images),
                               "--jobs", str(os.cpu_count() or 4), work])
    names = sorted(n for n in os.listdir(work) if n.endswith(".jpg"))[:args.images]
    blobs = [bytearray(open(os.path.join(work, n), "rb").read()) for n in names]
    log("%d JPEGs, %.1f KB mean" % (len(blobs), sum(map(len, blobs)) / len(blobs) / 1024))
    RESULTS["env"] = {"mps_control": subprocess.run("command -v nvidia-cuda-mps-control", shell=True,
                                                     capture_output=True, text=True).stdout.strip(),
                      "compute_mode": subprocess.run(
                          "nvidia-smi --query-gpu=compute_mode,name,driver_version --format=csv,noheader",
                          shell=True, capture_output=True, text=True).stdout.strip()}

    sys.path[:0] = [os.path.abspath(args.infer), HERE]
    import jc_infer as jc
    import gpu_experiments as gx
    import torch
    import torchvision
    from torchvision.io import ImageReadMode, decode_jpeg
    RESULTS["env"].update(torch=torch.__version__, torchvision=torchvision.__version__)
    dev = torch.device("cuda", 0)
    torch.cuda.set_device(dev)
    torch.backends.cudnn.benchmark = True
    bs = args.batch
    chunks = [blobs[i:i + bs] for i in range(0, len(blobs) - bs + 1, bs)]

    # The model as a CUDA graph: one launch per batch, so the main thread hardly holds the GIL.
    model = torchvision.models.resnet50().eval().to(dev, dtype=torch.float16, memory_format=torch.channels_last)
    static_in = torch.randn(bs, 3, 224, 224, device=dev, dtype=torch.float16).contiguous(
        memory_format=torch.channels_last)
    with torch.no_grad():
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(5):
                model(static_in)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = model(static_in).argmax(1)
    torch.cuda.synchronize()
    model_stream = torch.cuda.Stream()
    current_model_stream = [model_stream]

    def model_rate(n=60):
        with torch.cuda.stream(current_model_stream[0]):
            torch.cuda.synchronize()
            t = time.perf_counter()
            for _ in range(n):
                graph.replay()
            torch.cuda.synchronize()
        return n * bs / (time.perf_counter() - t)
    RESULTS["model_alone"] = statistics.median([model_rate() for _ in range(3)])
    RESULTS["env"]["stream_priority_range"] = list(torch.cuda.Stream.priority_range())
    log("model alone (graph, b%d): %.0f img/s" % (bs, RESULTS["model_alone"]))

    mean = (torch.tensor(jc.MEAN).reshape(1, 3, 1, 1) * 255.0).to(dev)
    inv_std = (1.0 / (torch.tensor(jc.STD).reshape(1, 3, 1, 1) * 255.0)).to(dev)

    def prep_groups(groups, n):
        out = torch.empty((n, 3, 224, 224), dtype=torch.float16, device=dev).contiguous(
            memory_format=torch.channels_last)
        for (h, w), (stacked, idx) in groups.items():
            top, left, bh, bw = jc.crop_box(h, w)
            x = torch.nn.functional.interpolate(stacked[:, :, top:top + bh, left:left + bw].float(),
                                                size=(224, 224), mode="bilinear", align_corners=False,
                                                antialias=True)
            x = ((x - mean) * inv_std).to(torch.float16)
            if len(idx) == n:
                out.copy_(x)
            else:
                out[torch.tensor(idx, device=dev)] = x
        return out

    def tv_decode(chunk):
        tensors = [torch.frombuffer(b, dtype=torch.uint8) for b in chunk]
        return decode_jpeg(tensors, mode=ImageReadMode.RGB, device=dev)

    def tv_groups(images):
        groups = {}
        for i, img in enumerate(images):
            groups.setdefault((int(img.shape[1]), int(img.shape[2])), []).append(i)
        return {k: (torch.stack([images[i] for i in idx]), idx) for k, idx in groups.items()}

    # name -> (decode only, decode + crop/resize/normalize, decode stream priority, model: graph or eager)
    tv_pipe = lambda chunk: prep_groups(tv_groups(tv_decode(chunk)), len(chunk))  # noqa: E731
    decoders = {"torchvision": (tv_decode, tv_pipe, 0, "graph", None)}
    for sms in args.green:
        decoders["torchvision_green%d" % sms] = (tv_decode, tv_pipe, 0, "graph", sms)
    for alloc in ("torch_alloc",):
        try:
            nv = gx.NvjpegDecoder(torch, dev, torch_allocators=(alloc == "torch_alloc"))
            RESULTS.setdefault("nvjpeg", {})[alloc] = {"library": nv.library, "backend": nv.backend_name}

            def nv_decode(chunk, nv=nv):
                return nv.decode(chunk)

            def nv_pipeline(chunk, nv=nv):
                groups, failed = nv.decode(chunk)
                assert not failed, failed
                return prep_groups(groups, len(chunk))
            if alloc == "torch_alloc":  # the decode stream ahead of the model's in the block scheduler
                decoders["ctypes_torch_alloc_highprio"] = (nv_decode, nv_pipeline, -1, "graph", None)
                for sms in args.green:
                    decoders["ctypes_highprio_green%d" % sms] = (nv_decode, nv_pipeline, -1, "graph", sms)
                    decoders["ctypes_highprio_green%d_eager" % sms] = (nv_decode, nv_pipeline, -1, "eager", sms)
        except Exception as exc:  # noqa: BLE001 - recorded
            RESULTS.setdefault("nvjpeg", {})[alloc] = {"error": repr(exc)[:400]}
            log("ctypes nvJPEG (%s) unavailable: %r" % (alloc, exc))

    # Calibrate the sleep kernel to ~200 ms.
    torch.cuda._sleep(1000)
    torch.cuda.synchronize()
    t = time.perf_counter()
    torch.cuda._sleep(int(1e8))
    torch.cuda.synchronize()
    cycles = int(1e8 * 0.2 / (time.perf_counter() - t))

    def keep_two_in_flight(events, stream):
        """After queueing a model batch on stream: wait until at most two are queued."""
        ev = torch.cuda.Event()
        ev.record(stream)
        events.append(ev)
        if len(events) > 2:
            events.pop(0).synchronize()

    def sleep_probe(fn):
        s1, s2 = torch.cuda.Stream(), torch.cuda.Stream()
        out = []
        for _ in range(3):
            torch.cuda.synchronize()
            t = time.perf_counter()
            with torch.cuda.stream(s1):
                torch.cuda._sleep(cycles)
            with torch.cuda.stream(s2):
                fn()
            s2.synchronize()
            dt = time.perf_counter() - t
            waited = s1.query()  # the sleep is over already: fn waited for it
            torch.cuda.synchronize()
            out.append({"seconds": round(dt, 4), "sleep_finished_first": bool(waited)})
        return out

    def cudafree():
        x = torch.empty(512 << 20, dtype=torch.uint8, device=dev)
        del x
        torch.cuda.empty_cache()
    RESULTS["sleep_controls"] = {"small_kernel": sleep_probe(lambda: torch.ones(1024, device=dev).add_(1)),
                                 "empty_cache": sleep_probe(cudafree)}
    log("sleep controls: %s" % RESULTS["sleep_controls"])

    for name in args.skip:
        decoders.pop(name, None)
    full_stream = model_stream
    greens = {}
    for name, (dec, pipe_fn, prio, model_kind, sms) in decoders.items():
        r = RESULTS.setdefault("decoders", {}).setdefault(name, {})
        try:
            if sms is None:
                model_stream = full_stream
                current_model_stream[0] = model_stream
            else:
                if sms not in greens:
                    greens[sms] = gx.green_stream(torch, 0, sms)
                    RESULTS.setdefault("green", {})[str(sms)] = dict(greens[sms][1], model_alone=None)
                model_stream = greens[sms][0]
                current_model_stream[0] = model_stream
                r["green"] = greens[sms][1]
                r["model_alone"] = statistics.median([model_rate() for _ in range(3)])
                log("%s: model alone on its SM partition %s: %.0f img/s" % (name, greens[sms][1], r["model_alone"]))
            s = torch.cuda.Stream(priority=prio)
            with torch.cuda.stream(s):
                for _ in range(3):
                    dec(chunks[0])
                torch.cuda.synchronize()

                def rate(fn):
                    rates = []
                    for _ in range(3):
                        t = time.perf_counter()
                        for c in chunks:
                            fn(c)
                        torch.cuda.synchronize()
                        rates.append(len(chunks) * bs / (time.perf_counter() - t))
                    return statistics.median(rates)
                r["alone"] = rate(dec)
                r["alone_with_prep"] = rate(pipe_fn)
            r["sleep"] = sleep_probe(lambda: dec(chunks[0]))
            log("%s: alone %.0f img/s, +prep %.0f, sleep probe %s" % (name, r["alone"], r["alone_with_prep"],
                                                                      r["sleep"]))

            # overlap: decode in a thread while the model replays its graph, (a) at most two batches in
            # flight (the main thread waits on events), (b) all batches queued at once, then one wait
            for how in ("bounded", "burst"):
                stop = threading.Event()
                count = [0]
                split = {"call": 0.0, "sync": 0.0, "batches": 0}

                def side_decode():
                    torch.cuda.set_device(dev)
                    st = torch.cuda.Stream(priority=prio)
                    with torch.cuda.stream(st):
                        while not stop.is_set():
                            for c in chunks:
                                if stop.is_set():
                                    break
                                t1 = time.perf_counter()
                                dec(c)
                                t2 = time.perf_counter()
                                st.synchronize()
                                t3 = time.perf_counter()
                                count[0] += len(c)
                                split["call"] += t2 - t1
                                split["sync"] += t3 - t2
                                split["batches"] += 1
                th = threading.Thread(target=side_decode)
                th.start()
                time.sleep(0.5)
                n = 80
                with torch.cuda.stream(model_stream):
                    events = []
                    c0, t = count[0], time.perf_counter()
                    s0 = dict(split)
                    for _ in range(n):
                        graph.replay()
                        if how == "bounded":
                            keep_two_in_flight(events, model_stream)
                    model_stream.synchronize()
                    el = time.perf_counter() - t
                    c1 = count[0]
                    s1 = dict(split)
                stop.set()
                th.join()
                b = max(1, s1["batches"] - s0["batches"])
                r["overlap_" + how] = {"model": n * bs / el, "decode": (c1 - c0) / el,
                                       "decode_call_ms_per_batch": 1000 * (s1["call"] - s0["call"]) / b,
                                       "stream_wait_ms_per_batch": 1000 * (s1["sync"] - s0["sync"]) / b,
                                       "before_model": {"batches": s0["batches"],
                                                        "call_ms": 1000 * s0["call"] / max(1, s0["batches"]),
                                                        "wait_ms": 1000 * s0["sync"] / max(1, s0["batches"])}}
                log("%s overlap (%s): %s" % (name, how, r["overlap_" + how]))

            # pipeline from memory: decode+prep thread -> queue -> model (graph) in the main thread
            rates = []
            for _ in range(3):
                q = queue.Queue(maxsize=3)

                def producer():
                    torch.cuda.set_device(dev)
                    st = torch.cuda.Stream(priority=prio)
                    with torch.cuda.stream(st):
                        for _ in range(4):
                            for c in chunks:
                                x = pipe_fn(c)
                                ev = torch.cuda.Event()
                                ev.record(st)
                                q.put((x, ev))
                    q.put(None)
                th = threading.Thread(target=producer)
                torch.cuda.synchronize()
                t = time.perf_counter()
                th.start()
                done = 0
                events = []
                with torch.cuda.stream(model_stream):
                    while True:
                        item = q.get()
                        if item is None:
                            break
                        x, ev = item
                        model_stream.wait_event(ev)
                        x.record_stream(model_stream)
                        if model_kind == "graph":
                            static_in.copy_(x)
                            graph.replay()
                        else:
                            with torch.no_grad():
                                model(x).argmax(1)
                        done += bs
                        keep_two_in_flight(events, model_stream)
                    model_stream.synchronize()
                rates.append(done / (time.perf_counter() - t))
                th.join()
            r["pipeline"] = {"median": statistics.median(rates), "samples": rates}
            log("%s pipeline from memory: %.0f img/s (%s)" % (name, r["pipeline"]["median"],
                                                            ", ".join("%.0f" % x for x in rates)))
        except Exception as exc:  # noqa: BLE001 - recorded
            import traceback
            r["error"] = traceback.format_exc()[-1500:]
            log("%s failed: %s" % (name, r["error"]))
        with open(os.path.join(args.out, "probe.json"), "w") as handle:
            json.dump(RESULTS, handle, indent=1, sort_keys=True)
    log("done")


if __name__ == "__main__":
    main()
