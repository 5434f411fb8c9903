# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""ResNet-50 inference over one slice of a dataset: the cluster's benchmark workload.

    WORKLOAD_MODE=files JOB_COMPLETION_INDEX=1 TOTAL_JOBS=3 IMAGE_DIR=/data/images python3 -m jc_infer
    python3 -m jc_infer --mode synthetic --total-images 1200 --device cpu

Every setting comes from the environment (as an indexed Kubernetes Job sets it) or from the
command-line flag of the same meaning; a flag wins over the environment:

    WORKLOAD_MODE        synthetic | files                       (--mode, default files)
    JOB_COMPLETION_INDEX this process's index, 0-based          (--index, default 0)
    TOTAL_JOBS           number of processes sharing the work   (--total-jobs, default 1)
    TOTAL_IMAGES         synthetic: images in all; files: cap   (--total-images)
    IMAGE_DIR            JPEG directory (recursive)             (--image-dir, default /data/images)
    BATCH_SIZE           auto | N                               (--batch-size)
    PRECISION            auto | fp32 | fp16 | bf16              (--precision)
    DECODE               auto | cpu | gpu | nvimgcodec | dali   (--decode)
    NUM_WORKERS          auto | N: CPU decode processes (with DECODE=gpu: CPU helpers beside nvJPEG)
    DEVICE               auto | cuda | cpu                      (--device)
    WEIGHTS              local state_dict file; never downloads (--weights)
    WARMUP_BATCHES       untimed batches before the timed window (--warmup-batches)
    CUDA_GRAPHS          auto | on | off: replay the model as one CUDA graph, one launch per batch
                         instead of ~160 (auto = on with a CUDA >= 11 build of torch, where capture
                         works; JetPack 4.6's CUDA 10.2 stays eager. Measured on an H100: +4 % end
                         to end with nvJPEG, see docs/benchmarks.md); a failed capture runs eager
    PREFETCH_BATCHES     batches read/decoded ahead of the model (--prefetch-batches)
    DECODE_PROCESS       auto | on | off: nvJPEG in a second process (own CUDA context, batches shared
                         by CUDA IPC); auto = off: measured slower on an H100 without MPS (contexts
                         time-slice), kept for MPS hosts; never on Tegra (no CUDA IPC)
    CUDNN_BENCHMARK      auto | on | off: cuDNN autotuning in the warm-up (auto = off: measured as fast
                         without it on an H200, and ~0.5 s shorter to start; docs/benchmarks.md)
    WARMUP_OVERLAP       auto | on | off: warm the decoder up in a thread beside the model's warm-up
                         (auto = on unless cuDNN autotunes: nvJPEG beside the autotuner's timings
                         may make it keep slower algorithms)
    CUDA_PREINIT         auto | on | off: the CUDA driver's initialisation (cuInit, the primary context)
                         in a thread beside `import torch` (auto = on unless DEVICE=cpu; the reason
                         for not using it goes to the result line's "cuda_preinit"; cudainit.py)
    PIPELINE_PRIME       auto | on | full | off: start the batch source (reader threads, decoder) before
                         the timed window and wait for its first batch (on) or until its prefetch
                         queue is full (full, nvJPEG pipeline), counted in the warm-up as
                         "pipeline_fill" (auto = full in the files mode, off for synthetic; window.py)
    GC_FREEZE            auto | on | off: Python's cyclic collector off through the imports and the
                         warm-up, then every object made so far frozen (gc.freeze: never scanned again)
                         and the collector on for the window, so that no full collection over torch's
                         objects stops the pipeline's threads mid-window (auto = on where gc.freeze
                         exists, Python >= 3.7; the result line's "gc" counts collections by phase;
                         gcpause.py)
    TORCHVISION_IMAGE_OPS  auto | package: torchvision's decoders through its image extension alone
                         (auto, torchvision >= 0.19: the package's __init__ is never run) or the package
    CUDA_DEVICE_MAX_CONNECTIONS  CUDA's own variable: hardware work queues per context. Set to 16
                         when unset (CUDA's default is 8), before CUDA starts: with 8 (or 12),
                         nvJPEG's streams share queues with the model's and each decode waits behind
                         the model's queued kernels; each queue more costs ~11 ms at exit, so not 32
                         (docs/benchmarks.md, runs 9c-9d)

The partition is contiguous over the sorted file list (or over TOTAL_IMAGES): every index gets
total // jobs items and the last one also takes the remainder, so an index may get none.
Decoding: "cpu" = DataLoader worker processes decode, crop and resize with Pillow into pinned
uint8 batches; "gpu" = file bytes read by threads, decoded in batches by nvJPEG
(torchvision.io.decode_jpeg on CUDA), cropped/resized/normalized on the GPU on a side stream
while the model runs the previous batch on its own stream, with NUM_WORKERS CPU processes
decoding a share of the files beside it (both take work from one queue, so the faster gets more);
"nvimgcodec" = the same pipeline with NVIDIA nvImageCodec decoding the batches, on the GPU's
hardware JPEG decoder (NVJPG engines: A100, H100, ...) where there is one, so decoding does not
compete with the model for the GPU's multiprocessors; "dali" = NVIDIA DALI when it is installed.
"auto" picks gpu where a GPU is there, else cpu (nvimgcodec measured slower end to end on an
H100 than torchvision's nvJPEG, although its hardware decoder alone is faster: docs/benchmarks.md).
A corrupt or unreadable image is counted in "errors" and skipped, never fatal.

stdout gets exactly one JSON line at the end (index, total_jobs, images, errors, seconds,
warmup_seconds, throughput, device, batch_size, precision, hostname, mode, decode,
startup_seconds, ...) and where the time outside the timed window went: "startup" (interpreter,
file_listing, import_torch, import_torchvision, device_init, model_build, weights; they add up to
startup_seconds), "warmup" (autotune, graph_capture, decoder, pipeline_fill: warmup_seconds), process_seconds and
fixed_seconds = process_seconds - seconds = startup + warmup + other ("fixed"; after_window_seconds:
the part of other from the window's end to the line), "window_profile" (window.py), "window_allocations" (the CUDA caching allocators' cudaMalloc /
cudaHostAlloc calls in the window: window.py, runtime.py) and "gc" (gcpause.py). After the line the
process flushes and leaves with os._exit (no interpreter/CUDA teardown); progress goes to stderr. Exit 0 on success (corrupt images included),
2 on bad settings or a missing or short dataset (an empty IMAGE_DIR, or fewer images than its
manifest.json lists: what an unmounted NFS mount point looks like), 1 when inference itself failed.

Runs on Python >= 3.6 with torch >= 1.10 / torchvision >= 0.11 (Jetson l4t-pytorch) up to
current releases: newer features (batched nvJPEG, antialiased GPU resize, CUDA graphs,
inference_mode, bf16) are detected and skipped when absent. The parts that need no torch
(settings, file list, partition, result) import without it.

The package, one module per concern (each imports torch only when it runs):
    settings       SETTINGS, parse_settings, SettingsError, set_cuda_connections
    dataset        list_images, manifest_count, partition, plan_work
    result         ErrorLog, build_result, add_process_seconds, emit, log
    compat         version_tuple, cpu_count: what differs between Python/torch releases
    preprocessing  crop_box, pil_crop_resize, Preprocessing (GPU crop/resize/normalize)
    runtime        Runtime: torch, the device, the model, CUDA graphs
    resnet         resnet50: ResNet-50 in plain torch.nn, torchvision's state_dict layout (no torchvision)
    tvimage        ImageOps: torchvision's JPEG decoders without importing the package
    cudainit       CudaPreinit: the CUDA driver's initialisation in a thread beside `import torch`
    gcpause        GcWatch: Python's collector off until the warm-up ends, then frozen; collections by phase
    decoders       synthetic, Pillow (DataLoader), nvJPEG/nvImageCodec pipeline, decode process, DALI
    metrics        Metrics: workload metrics for node_exporter's textfile collector (METRICS_TEXTFILE_DIR)
    workload       resolve_decode, run, main
    __main__       python3 -m jc_infer
The names below are re-exported so that a caller (tests, benchmarks/) needs only "import jc_infer".
"""

from __future__ import division, print_function

from .compat import NoContext, cpu_count, signature_parameters, version_tuple
from .dataset import (DEFAULT_SYNTHETIC_IMAGES, IMAGE_SUFFIXES, MANIFEST_NAME, list_images,
                      manifest_count, partition, plan_work)
from .decoders import (READER_THREADS, DecodedFiles, DecodeProcess, DecodeSide, GpuDecodePipeline,
                       HardwareJpegDecoder, WorkDispenser, collate_decoded, cpu_decode_batches, dali_batches,
                       synthetic_batches)
from .preprocessing import CROP, MEAN, RESIZE_SHORT, STD, Preprocessing, crop_box, pil_crop_resize
from .result import (MAX_ERROR_SAMPLES, ErrorLog, add_process_seconds, build_result, emit, interpreter_seconds, log,
                     process_age)
from .runtime import Runtime, graphs_by_default
from .settings import (CUDA_CONNECTIONS, DEFAULT_IMAGE_DIR, SETTINGS, SettingsError, build_parser,
                       parse_settings, set_cuda_connections, validate_settings)
from .workload import (EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, auto_workers, main, resolve_decode, run,
                       want_decode_process)

__all__ = [
    "add_process_seconds", "build_parser", "build_result", "collate_decoded", "cpu_count", "cpu_decode_batches",
    "CROP", "crop_box",
    "CUDA_CONNECTIONS", "dali_batches", "DecodedFiles", "DecodeProcess", "DecodeSide", "DEFAULT_IMAGE_DIR",
    "DEFAULT_SYNTHETIC_IMAGES", "emit", "ErrorLog", "GpuDecodePipeline", "graphs_by_default",
    "HardwareJpegDecoder", "IMAGE_SUFFIXES", "interpreter_seconds", "list_images", "process_age", "log",
    "manifest_count",
    "MANIFEST_NAME", "MAX_ERROR_SAMPLES", "MEAN", "NoContext", "parse_settings", "partition",
    "pil_crop_resize", "plan_work", "Preprocessing", "READER_THREADS", "RESIZE_SHORT", "Runtime",
    "set_cuda_connections", "SETTINGS", "SettingsError", "signature_parameters", "STD", "synthetic_batches",
    "validate_settings", "version_tuple", "WorkDispenser",
    "auto_workers", "EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "main", "resolve_decode", "run",
    "want_decode_process",
]
