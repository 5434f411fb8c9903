# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""One run from settings to result line: pick the decoder, warm up, time the pass, report."""

from __future__ import division, print_function

import importlib
import os
import sys
import threading
import time

from .compat import cpu_count
from .cudainit import CudaPreinit
from .dataset import MANIFEST_NAME, plan_work
from .decoders import (READER_THREADS, DecodeProcess, GpuDecodePipeline, HardwareJpegDecoder, cpu_decode_batches,
                       dali_batches, synthetic_batches)
from .gcpause import GcWatch
from .metrics import from_settings as metrics_from_settings
from .metrics import timeline
from .preprocessing import pil_crop_resize
from .result import ErrorLog, add_process_seconds, build_result, emit, interpreter_seconds, log
from .runtime import Runtime
from .settings import SettingsError, parse_settings, set_cuda_connections
from .window import Primed, allocator_delta, prime_decision, window_profile

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def auto_workers(decode, cpus):
    """CPU decode: every core but the one feeding the GPU. GPU decode: no CPU helper processes
    unless asked for. DALI: its own CPU threads."""
    if decode == "cpu":
        return max(1, min(cpus - 1, 32))
    if decode in ("gpu", "nvimgcodec"):
        return 0  # CPU helpers measured slower beside nvJPEG on an H100 (docs/benchmarks.md); opt in
    return max(1, min(cpus, READER_THREADS))


def resolve_decode(rt, wanted, mode):
    if mode == "synthetic":
        return "none"
    if wanted == "dali":
        if not rt.cuda:
            log("DECODE=dali needs a CUDA device; decoding on the CPU")
            return "cpu"
        try:
            importlib.import_module("nvidia.dali")  # optional
            return "dali"
        except ImportError:
            fallback = "gpu" if rt.gpu_decode_ok else "cpu"
            log("DECODE=dali but NVIDIA DALI is not installed; decoding with %s" % fallback)
            return fallback
    if wanted == "nvimgcodec" and rt.cuda:
        try:
            importlib.import_module("nvidia.nvimgcodec")  # optional
            return "nvimgcodec"
        except ImportError:
            log("DECODE=nvimgcodec but NVIDIA nvImageCodec is not installed; decoding with %s"
                % ("gpu" if rt.gpu_decode_ok else "cpu"))
            wanted = "gpu"
    if wanted in ("gpu", "nvimgcodec") and not rt.gpu_decode_ok:
        log("DECODE=%s needs CUDA and torchvision >= 0.10; decoding on the CPU" % wanted)
        return "cpu"
    if wanted == "auto":
        return "gpu" if rt.gpu_decode_ok else "cpu"
    return wanted


def _warm_decoder(rt, decode, sample, workers):
    """Run the decode path once on a few of this partition's files (results discarded)."""
    scratch = ErrorLog()  # problems met here are counted in the timed pass
    if decode in ("gpu", "nvimgcodec"):
        hw = HardwareJpegDecoder(rt) if decode == "nvimgcodec" else None
        for batch, _ in GpuDecodePipeline(rt, sample, READER_THREADS, scratch, 1, hw=hw):
            rt.infer(batch)
        return
    import numpy as np
    good = []
    for path in sample[:8]:
        try:
            good.append(np.array(pil_crop_resize(path), dtype=np.uint8))
        except Exception:  # noqa: BLE001 - counted later
            scratch.add(path, "unreadable")
    if good:
        rt.infer(rt.normalize_nhwc(rt.torch.from_numpy(np.stack(good))))


class _DecoderWarmup(threading.Thread):
    """The GPU decode path run once on a few files in a thread (batches discarded, no model)."""

    def __init__(self, rt, decode, sample):
        threading.Thread.__init__(self, name="jc-decoder-warmup")
        self.daemon = True
        self.rt, self.decode, self.sample = rt, decode, sample
        self.error = None

    def run(self):
        try:
            self.rt.torch.cuda.set_device(self.rt.device)  # the current device is per thread
            hw = HardwareJpegDecoder(self.rt) if self.decode == "nvimgcodec" else None
            for _batch, _n in GpuDecodePipeline(self.rt, self.sample, READER_THREADS, ErrorLog(), 1, hw=hw):
                pass
            self.rt.torch.cuda.current_stream(self.rt.device).synchronize()
        except Exception as exc:  # noqa: BLE001 - raised by the main thread
            self.error = exc


def _start_decoder_warmup(rt, decode, sample):
    side = _DecoderWarmup(rt, decode, sample)
    side.start()
    return side


def want_decode_process(settings):
    """Whether to start the decode process now, before torch is imported, so that both processes
    import at once: only when asked for (DECODE_PROCESS=on) and nvJPEG decoding is possible."""
    return settings["decode_process"] == "on" and settings["workload_mode"] == "files" \
        and settings["decode"] in ("auto", "gpu") and settings["device"] != "cpu" \
        and settings["num_workers"] in ("auto", 0)


def run(settings, plan, startup, errors, dp=None, preinit=None, gc_watch=None):
    metrics = metrics_from_settings(settings)  # jc_infer/metrics.py: off without METRICS_TEXTFILE_DIR
    if gc_watch is None:  # a caller that did not start one at its beginning: counted from here
        gc_watch = GcWatch(settings.get("gc_freeze", "auto"))
    try:
        return _run(settings, plan, startup, errors, dp, metrics, preinit, gc_watch)
    except Exception:
        metrics.phase("failed")
        raise
    finally:
        gc_watch.close()


def _run(settings, plan, startup, errors, dp, metrics, preinit, gc_watch):
    rt = Runtime(settings, startup, preinit)
    decode = resolve_decode(rt, settings["decode"], settings["workload_mode"])
    workers = settings["num_workers"]
    workers = auto_workers(decode, cpu_count()) if workers == "auto" else workers
    log("%s on %s (%s): batch %d, %s, decode %s, %d worker(s), images [%d, %d)" % (
        settings["workload_mode"], rt.device, rt.device_name, rt.batch_size, rt.precision, decode,
        workers, plan["start"], plan["end"]))

    if dp is not None and not (decode == "gpu" and rt.cuda and rt.batched_nvjpeg and workers == 0):
        dp.close()  # not usable here (CPU, old torchvision, or CPU helpers asked for): in-process decode
        dp = None
    with rt.compute():
        return _run_on_stream(rt, settings, plan, errors, decode, workers, startup, dp, metrics, gc_watch)


def _run_on_stream(rt, settings, plan, errors, decode, workers, startup, dp, metrics, gc_watch):
    files = plan["files"]
    assigned = plan["end"] - plan["start"]
    # Untimed warm-up: cuDNN autotuning, graph capture, then the decoder on this partition's first files.
    # With WARMUP_OVERLAP on the decoder's warm-up (nvJPEG's first batch) runs in a thread beside the
    # model's (no graph may be captured meanwhile: capture forbids other threads' CUDA calls), and its
    # time counts in "decoder" only for what is left after the model's warm-up.
    warmup = {}
    metrics.phase("warmup")
    gc_watch.phase("warmup")
    t = t_warm = time.time()
    side = None
    warm_decoder = dp is None and settings["warmup_batches"] and files and decode in ("gpu", "nvimgcodec", "cpu")
    if warm_decoder and rt.cuda and decode in ("gpu", "nvimgcodec") and rt.warmup_overlap:
        side = _start_decoder_warmup(rt, decode, files[:rt.batch_size])
        warm_decoder = False
    if settings["warmup_batches"]:
        rt.warm_model(settings["warmup_batches"])
    warmup["autotune"] = time.time() - t
    t = time.time()
    if side is not None:
        side.join()
        if side.error is not None:
            raise side.error
    rt.sync()
    warmup["decoder"] = time.time() - t
    t = time.time()
    rt.prepare_graph(settings["cuda_graphs"])
    warmup["graph_capture"] = time.time() - t
    t = time.time()
    if dp is not None:
        dp.start(rt, files, READER_THREADS, settings["prefetch_batches"])
    elif warm_decoder:
        _warm_decoder(rt, decode, files[:rt.batch_size], workers)
    rt.sync()
    rt.predictions = []
    warmup["decoder"] += time.time() - t
    warmup_seconds = time.time() - t_warm
    # GC_FREEZE (gcpause.py): what exists now lives as long as the process; freeze it and turn the
    # collector back on before the batch source's threads and worker processes start.
    gc_watch.release()

    if settings["workload_mode"] == "synthetic":
        source = synthetic_batches(rt, assigned)
    elif dp is not None:
        source = dp.batches(rt, errors)
    elif decode in ("gpu", "nvimgcodec"):
        hw = HardwareJpegDecoder(rt) if decode == "nvimgcodec" else None
        source = GpuDecodePipeline(rt, files, READER_THREADS, errors, settings["prefetch_batches"], workers,
                                   hw=hw)
    elif decode == "dali":
        source = dali_batches(rt, files, workers, errors, settings["prefetch_batches"])
    else:
        source = cpu_decode_batches(rt, files, workers, errors, settings["prefetch_batches"])

    # PIPELINE_PRIME: the source's threads started and its first batch ready before the window
    # opens (window.py); the wait is warm-up ("pipeline_fill"), the window the steady state.
    batches = Primed(source)
    prime = prime_decision(settings.get("pipeline_prime", "auto"), settings["workload_mode"])
    if prime != "off":
        full = None
        if prime == "full" and isinstance(source, GpuDecodePipeline):
            full = lambda: source.ready.qsize() >= source.prefetch  # noqa: E731
        t = time.time()
        batches.prime(full)
        warmup["pipeline_fill"] = time.time() - t
        warmup_seconds += warmup["pipeline_fill"]

    images = 0
    marks = []
    metrics.phase("timed")
    gc_watch.phase("window")
    counts_at_start = rt.allocator_counts()
    t0 = last_report = previous = time.time()
    for batch, n in batches:
        rt.infer(batch)
        images += n
        now = time.time()
        marks.append(now)
        metrics.batch(n, now - previous)
        previous = now
        if now - last_report >= 5.0:
            log("%d/%d images, %.1f img/s" % (images, assigned, images / (now - t0)))
            last_report = now
    rt.sync()
    t_end = time.time()
    gc_watch.phase("after")
    window_allocations = allocator_delta(counts_at_start, rt.allocator_counts())
    seconds = t_end - t0

    top1 = rt.torch.cat(rt.predictions).cpu() if rt.predictions else None
    predicted = 0 if top1 is None else int(top1.numel())
    if predicted != images:
        raise RuntimeError("%d predictions for %d images" % (predicted, images))
    extra = {
        "warmup": warmup,
        "cuda_graphs": rt.graph_note,
        "num_workers": workers,
        "top1_classes": 0 if top1 is None else int(top1.unique().numel()),
        "versions": {"python": "%d.%d.%d" % tuple(sys.version_info[:3]), "torch": rt.torch.__version__,
                     "torchvision": rt.image_ops.version if rt.image_ops else None},
    }
    extra["torchvision_loaded"] = rt.image_ops.source if rt.image_ops else None  # "extension" or "package"
    extra["decode_process"] = dp is not None
    extra["cuda_preinit"] = rt.cuda_preinit
    extra["cuda_device_max_connections"] = os.environ.get("CUDA_DEVICE_MAX_CONNECTIONS")
    if isinstance(source, GpuDecodePipeline):
        extra["batch_decode_fallbacks"] = source.fallbacks
        extra["decoded_by"] = dict(source.by_path)
    elif dp is not None and dp.summary:
        extra["batch_decode_fallbacks"] = dp.summary["fallbacks"]
    extra["pipeline_primed"] = batches.primed
    extra["gc"] = gc_watch.report()
    extra["window_allocations"] = window_allocations
    extra["window_profile"] = window_profile(t0, marks, t_end)
    extra.update(timeline(t_warm, t0, seconds))
    result = build_result(settings, plan, images, errors, seconds, warmup_seconds, startup, str(rt.device),
                          rt.device_name, rt.batch_size, rt.precision, decode, extra)
    metrics.finish(result)
    return result


def main(argv=None):
    startup = {"interpreter": interpreter_seconds()}
    watches = []
    try:
        return _main(argv, startup, watches)
    finally:
        for watch in watches:  # the collector as it was, whichever way the run ended
            watch.close()


def _main(argv, startup, watches):
    errors = ErrorLog()
    set_cuda_connections()  # read by the driver's cuInit: before the pre-initialisation below
    preinit = None
    try:
        settings = parse_settings(argv)
        # Python's collector off through the imports and the warm-up where it can be frozen after them
        # (GC_FREEZE, jc_infer/gcpause.py); every collection counted by phase.
        gc_watch = GcWatch(settings["gc_freeze"])
        watches.append(gc_watch)
        # The CUDA driver's initialisation in a thread, beside the file listing and `import torch`
        # (jc_infer/cudainit.py); Runtime waits for it before torch touches CUDA.
        preinit = CudaPreinit(settings)
        t = time.time()
        plan = plan_work(settings)
        startup["file_listing"] = time.time() - t
    except SettingsError as exc:
        log("ERROR: %s" % exc)
        emit({"error": str(exc), "images": 0, "errors": 0})
        return EXIT_BAD_INPUT
    if plan["manifest_count"] is not None and plan["manifest_count"] != plan["dataset_count"]:
        log("WARNING: %s lists %d images, the directory holds %d"
            % (MANIFEST_NAME, plan["manifest_count"], plan["dataset_count"]))
    if plan["end"] == plan["start"]:
        # Nothing assigned (more jobs than images): report at once, without loading torch or a model.
        log("index %d of %d has no images assigned" % (settings["job_completion_index"], settings["total_jobs"]))
        emit(add_process_seconds(build_result(settings, plan, 0, errors, 0.0, 0.0, startup, "none", "none",
                                              settings["batch_size"], settings["precision"], "none")))
        return EXIT_OK
    dp = None
    if want_decode_process(settings):
        try:
            dp = DecodeProcess()
        except Exception as exc:  # e.g. no /dev/shm: decode in this process instead
            log("cannot start the decode process (%s); decoding in this process" % exc)
    try:
        result = run(settings, plan, startup, errors, dp, preinit, gc_watch)
    except SettingsError as exc:
        log("ERROR: %s" % exc)
        emit({"error": str(exc), "index": settings["job_completion_index"], "images": 0, "errors": errors.count})
        return EXIT_BAD_INPUT
    except Exception as exc:  # one line for the log collector, then the traceback for a human
        import traceback
        traceback.print_exc()
        emit({"error": "%s: %s" % (type(exc).__name__, exc), "index": settings["job_completion_index"],
              "images": 0, "errors": errors.count})
        return EXIT_FAILED
    finally:
        if dp is not None:
            dp.close()
    log("done: %(images)d images, %(errors)d errors, %(seconds).3f s, %(throughput).1f img/s" % result)
    emit(add_process_seconds(result))
    return EXIT_OK

