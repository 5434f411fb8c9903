#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""ResNet-50 inference over one slice of a dataset: the cluster's benchmark workload.

    WORKLOAD_MODE=files JOB_COMPLETION_INDEX=1 TOTAL_JOBS=3 IMAGE_DIR=/data/images jc_infer.py
    jc_infer.py --mode synthetic --total-images 1200 --device cpu

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
    CUDA_DEVICE_MAX_CONNECTIONS  CUDA's own variable: hardware work queues per context. Set to 32
                         when unset (CUDA's default is 8), before CUDA starts: with 8, nvJPEG's
                         streams share queues with the model's and each decode waits behind the
                         model's queued kernels (docs/benchmarks.md)

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
startup_seconds, ...); progress goes to stderr. Exit 0 on success (corrupt images included),
2 on bad settings or a missing dataset, 1 when inference itself failed.

Runs on Python >= 3.6 with torch >= 1.10 / torchvision >= 0.11 (Jetson l4t-pytorch) up to
current releases: newer features (batched nvJPEG, antialiased GPU resize, CUDA graphs,
inference_mode, bf16) are detected and skipped when absent. The parts that need no torch
(settings, file list, partition, result) import without it.
"""

from __future__ import division, print_function

import argparse
import importlib
import json
import os
import queue
import socket
import sys
import threading
import time

_T_MODULE = time.time()

IMAGE_SUFFIXES = (".jpg", ".jpeg")
MANIFEST_NAME = "manifest.json"
DEFAULT_IMAGE_DIR = "/data/images"
DEFAULT_SYNTHETIC_IMAGES = 1200
RESIZE_SHORT = 256  # ImageNet evaluation: shorter side to 256, centre crop 224
CROP = 224
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
MAX_ERROR_SAMPLES = 5

CUDA_CONNECTIONS = 32  # CUDA_DEVICE_MAX_CONNECTIONS unless the environment sets it (CUDA's default: 8)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class SettingsError(Exception):
    """A setting or the dataset is unusable; the message names the value."""


# --- settings -------------------------------------------------------------------------------

# environment name, flag, kind, default, choices
SETTINGS = (
    ("WORKLOAD_MODE", "--mode", "choice", "files", ("synthetic", "files")),
    ("JOB_COMPLETION_INDEX", "--index", "int", 0, None),
    ("TOTAL_JOBS", "--total-jobs", "int", 1, None),
    ("TOTAL_IMAGES", "--total-images", "int", None, None),
    ("IMAGE_DIR", "--image-dir", "str", DEFAULT_IMAGE_DIR, None),
    ("BATCH_SIZE", "--batch-size", "auto_int", "auto", None),
    ("PRECISION", "--precision", "choice", "auto", ("auto", "fp32", "fp16", "bf16")),
    ("DECODE", "--decode", "choice", "auto", ("auto", "cpu", "gpu", "nvimgcodec", "dali")),
    ("NUM_WORKERS", "--num-workers", "auto_int", "auto", None),
    ("DEVICE", "--device", "choice", "auto", ("auto", "cuda", "cpu")),
    ("WEIGHTS", "--weights", "str", None, None),
    ("WARMUP_BATCHES", "--warmup-batches", "int", 2, None),
    ("CUDA_GRAPHS", "--cuda-graphs", "choice", "auto", ("auto", "on", "off")),
    ("PREFETCH_BATCHES", "--prefetch-batches", "int", 3, None),
    ("DECODE_PROCESS", "--decode-process", "choice", "auto", ("auto", "on", "off")),
)


def _key(name):
    return name.lower()


def _convert(name, kind, raw, choices):
    text = str(raw).strip()
    if kind == "str":
        return text
    if kind == "choice":
        value = text.lower()
        if value not in choices:
            raise SettingsError("%s=%r is not one of %s" % (name, raw, ", ".join(choices)))
        return value
    if kind == "auto_int" and text.lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise SettingsError("%s=%r is not an integer%s" % (name, raw, " or 'auto'" if kind == "auto_int" else ""))


def build_parser():
    parser = argparse.ArgumentParser(
        description="ResNet-50 inference over one partition of a JPEG directory or of synthetic images.",
        epilog="Each flag overrides the environment variable named in its help.")
    for name, flag, _kind, default, choices in SETTINGS:
        parser.add_argument(flag, dest=_key(name), default=None, metavar="VALUE",
                            help="%s (env %s, default %s)" % ("|".join(choices) if choices else "value",
                                                             name, default))
    return parser


def parse_settings(argv=None, environ=None):
    """Settings from flags, then the environment, then defaults; validated. Returns a dict."""
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    settings = {}
    for name, _flag, kind, default, choices in SETTINGS:
        raw = getattr(args, _key(name))
        if raw is None:
            raw = environ.get(name)
        if raw is None or str(raw).strip() == "":  # Kubernetes may set a variable to ""
            settings[_key(name)] = default
        else:
            settings[_key(name)] = _convert(name, kind, raw, choices)
    validate_settings(settings)
    return settings


def validate_settings(s):
    if s["total_jobs"] < 1:
        raise SettingsError("TOTAL_JOBS=%d must be at least 1" % s["total_jobs"])
    if not 0 <= s["job_completion_index"] < s["total_jobs"]:
        raise SettingsError("JOB_COMPLETION_INDEX=%d is outside 0..%d (TOTAL_JOBS=%d)"
                            % (s["job_completion_index"], s["total_jobs"] - 1, s["total_jobs"]))
    if s["total_images"] is not None and s["total_images"] < 0:
        raise SettingsError("TOTAL_IMAGES=%d must not be negative" % s["total_images"])
    if s["batch_size"] != "auto" and s["batch_size"] < 1:
        raise SettingsError("BATCH_SIZE=%d must be at least 1" % s["batch_size"])
    if s["num_workers"] != "auto" and s["num_workers"] < 0:
        raise SettingsError("NUM_WORKERS=%d must not be negative" % s["num_workers"])
    if s["warmup_batches"] < 0:
        raise SettingsError("WARMUP_BATCHES=%d must not be negative" % s["warmup_batches"])
    if s["prefetch_batches"] < 1:
        raise SettingsError("PREFETCH_BATCHES=%d must be at least 1" % s["prefetch_batches"])
    if s["weights"] and not os.path.isfile(s["weights"]):
        raise SettingsError("WEIGHTS=%s is not a readable file (weights are never downloaded)" % s["weights"])


# --- dataset and partition -------------------------------------------------------------------

def list_images(root):
    """Sorted "/"-separated relative paths of the *.jpg/*.jpeg files (any case) under root."""
    if not os.path.isdir(root):
        raise SettingsError("IMAGE_DIR=%s does not exist or is not a directory" % root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            if name.lower().endswith(IMAGE_SUFFIXES):
                found.append(os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/"))
    return sorted(found)


def manifest_count(root):
    """The image count recorded in root/manifest.json, or None when there is no usable manifest."""
    try:
        with open(os.path.join(root, MANIFEST_NAME)) as handle:
            manifest = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    count = manifest.get("count") if isinstance(manifest, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def partition(total, jobs, index):
    """[start, end) of index's contiguous slice: total // jobs each, the last takes the remainder."""
    if jobs < 1 or not 0 <= index < jobs or total < 0:
        raise SettingsError("cannot split %d items into %d jobs for index %d" % (total, jobs, index))
    share = total // jobs
    start = index * share
    end = total if index == jobs - 1 else start + share
    return start, end


def plan_work(settings):
    """This index's share: {"files" (absolute paths, None when synthetic), "start", "end",
    "dataset_count" (images found or synthetic total), "manifest_count"}."""
    jobs, index = settings["total_jobs"], settings["job_completion_index"]
    if settings["workload_mode"] == "synthetic":
        total = settings["total_images"]
        total = DEFAULT_SYNTHETIC_IMAGES if total is None else total
        start, end = partition(total, jobs, index)
        return {"files": None, "start": start, "end": end, "dataset_count": total, "manifest_count": None}
    root = settings["image_dir"]
    files = list_images(root)
    found = len(files)
    if settings["total_images"] is not None:
        files = files[:settings["total_images"]]
    start, end = partition(len(files), jobs, index)
    return {"files": [os.path.join(root, rel) for rel in files[start:end]], "start": start, "end": end,
            "dataset_count": found, "manifest_count": manifest_count(root)}


# --- errors and result -----------------------------------------------------------------------

class ErrorLog(object):
    """Counts images that could not be used and keeps a few messages as examples."""

    def __init__(self):
        self.count = 0
        self.samples = []
        self._lock = threading.Lock()

    def add(self, path, reason):
        text = str(reason).strip()
        text = text.splitlines()[0][:200] if text else type(reason).__name__
        with self._lock:
            self.count += 1
            if len(self.samples) < MAX_ERROR_SAMPLES:
                self.samples.append("%s: %s" % (os.path.basename(str(path)), text))


def build_result(settings, plan, images, errors, seconds, warmup_seconds, startup, device, device_name,
                 batch_size, precision, decode, extra=None):
    result = {
        "index": settings["job_completion_index"],
        "total_jobs": settings["total_jobs"],
        "mode": settings["workload_mode"],
        "images": images,
        "errors": errors.count,
        "assigned": plan["end"] - plan["start"],
        "partition": [plan["start"], plan["end"]],
        "seconds": round(seconds, 6),
        "warmup_seconds": round(warmup_seconds, 6),
        "throughput": round(images / seconds, 3) if seconds > 0 else 0.0,
        "startup_seconds": round(sum(startup.values()), 6),
        "startup": dict((k, round(v, 6)) for k, v in startup.items()),
        "device": device,
        "device_name": device_name,
        "batch_size": batch_size,
        "precision": precision,
        "decode": decode,
        "hostname": socket.gethostname(),
        "dataset_count": plan["dataset_count"],
        "manifest_count": plan["manifest_count"],
        "error_samples": list(errors.samples),
    }
    if extra:
        result.update(extra)
    return result


def emit(result, stream=None):
    stream = sys.stdout if stream is None else stream
    stream.write(json.dumps(result, sort_keys=True) + "\n")
    stream.flush()


def log(message):
    sys.stderr.write("[jc_infer] %s\n" % message)
    sys.stderr.flush()


def interpreter_seconds():
    """Seconds from the process's creation to this module's import (Linux /proc), else 0."""
    try:
        with open("/proc/self/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # starttime: field 22, counted after "pid (comm)"
        with open("/proc/uptime") as handle:
            uptime_now = float(handle.read().split()[0])
        return max(0.0, uptime_now - started - (time.time() - _T_MODULE))
    except (IOError, OSError, ValueError, IndexError, KeyError):
        return 0.0


# --- image geometry (pure arithmetic, shared by every decoder) ----------------------------------

def crop_box(height, width, resize_short=RESIZE_SHORT, crop=CROP):
    """(top, left, box_h, box_w) of the source region that "shorter side to resize_short, then
    centre-crop crop x crop" keeps. Resampling that box straight to crop x crop is the same
    transform in one pass over fewer pixels."""
    scale = resize_short / min(height, width)
    side = max(1, int(round(crop / scale)))
    box_h, box_w = min(height, side), min(width, side)
    return (height - box_h) // 2, (width - box_w) // 2, box_h, box_w


def pil_crop_resize(path, resize_short=RESIZE_SHORT, crop=CROP):
    """Decode one file with Pillow and return the crop x crop RGB image (antialiased resample)."""
    from PIL import Image

    with open(path, "rb") as handle:
        img = Image.open(handle)
        # DCT-domain downscale of large JPEGs; Pillow keeps the result at least this size.
        img.draft("RGB", (resize_short, resize_short))
        img = img.convert("RGB")
    width, height = img.size
    top, left, box_h, box_w = crop_box(height, width, resize_short, crop)
    return img.resize((crop, crop), Image.BILINEAR, box=(left, top, left + box_w, top + box_h))


# --- CPU decode through DataLoader workers (torch imported lazily) ------------------------------

_torch = None


def _lazy_torch():
    global _torch
    if _torch is None:
        import torch
        _torch = torch
    return _torch


class DecodedFiles(object):
    """Map-style dataset for DataLoader workers: i -> (uint8 HWC tensor or None, error text or None)."""

    def __init__(self, files):
        self.files = files

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        import numpy as np

        torch = _lazy_torch()
        path = self.files[i]
        try:
            arr = np.array(pil_crop_resize(path), dtype=np.uint8)
            return torch.from_numpy(arr), None
        except Exception as exc:  # any read or decode failure is data, not a crash
            return None, (path, str(exc) or type(exc).__name__)


def collate_decoded(items):
    """Stack the good images (B, H, W, 3 uint8 = NHWC) and pass the failures on."""
    torch = _lazy_torch()
    good = [t for t, _ in items if t is not None]
    failures = [e for t, e in items if t is None]
    batch = torch.stack(good) if good else torch.empty((0, CROP, CROP, 3), dtype=torch.uint8)
    return batch, failures


def _worker_init(_worker_id):
    _lazy_torch().set_num_threads(1)


# --- the torch runtime ------------------------------------------------------------------------

def version_tuple(text):
    """(major, minor) of "1.10.0a0+git36449ea" or "2.11.0+cu130"."""
    parts = []
    for piece in str(text).split("+")[0].split(".")[:2]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits) if digits else 0)
    while len(parts) < 2:
        parts.append(0)
    return tuple(parts)


class _NoContext(object):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _signature_parameters(func):
    try:
        import inspect
        return inspect.signature(func).parameters
    except (TypeError, ValueError):
        return {}


class Preprocessing(object):
    """Turning decoded images into normalized model input on the device; shared by the inference
    process (Runtime) and the decode process (DecodeSide). Needs torch, torchvision, device, cuda,
    dtype, memory_format and batch_size set."""

    def _init_preprocessing(self):
        torch = self.torch
        self.mean = (torch.tensor(MEAN).reshape(1, 3, 1, 1) * 255.0).to(self.device)
        self.inv_std = (1.0 / (torch.tensor(STD).reshape(1, 3, 1, 1) * 255.0)).to(self.device)
        self.antialias = "antialias" in _signature_parameters(torch.nn.functional.interpolate)
        self.batched_nvjpeg = version_tuple(self.torchvision.__version__) >= (0, 19)  # decode_jpeg(list)

    def normalize_nhwc(self, x_uint8_nhwc):
        """uint8 NHWC batch (pinned CPU or device) -> normalized model input, dtype, channels_last.
        Copied as it is (the 4 times smaller uint8, asynchronously from pinned memory), then seen as
        NCHW, which for NHWC storage is exactly the channels_last layout."""
        x = x_uint8_nhwc.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float()
        x = (x - self.mean) * self.inv_std
        return x.to(dtype=self.dtype, memory_format=self.memory_format)

    def gpu_crop_resize(self, images):
        """Decoded uint8 CHW device tensors -> normalized (N, 3, 224, 224) batch. Images of one shape
        are stacked and resampled together: one interpolate per distinct shape, not per image."""
        torch = self.torch
        out = torch.empty((len(images), 3, CROP, CROP), dtype=self.dtype, device=self.device) \
            .contiguous(memory_format=self.memory_format)
        groups = {}
        for i, img in enumerate(images):
            groups.setdefault((int(img.shape[1]), int(img.shape[2])), []).append(i)
        kwargs = {"mode": "bilinear", "align_corners": False}
        if self.antialias:
            kwargs["antialias"] = True
        for (height, width), idx in groups.items():
            top, left, box_h, box_w = crop_box(height, width)
            stacked = torch.stack([images[i] for i in idx])[:, :, top:top + box_h, left:left + box_w]
            x = torch.nn.functional.interpolate(stacked.float(), size=(CROP, CROP), **kwargs)
            x = ((x - self.mean) * self.inv_std).to(dtype=self.dtype)
            if len(idx) == len(images):
                out.copy_(x)
            else:
                out[torch.tensor(idx, device=self.device)] = x
        return out


class Runtime(Preprocessing):
    """torch, the device, the model and the preprocessing for one process."""

    def __init__(self, settings, startup):
        t = time.time()
        import torch
        import torchvision
        self.torch, self.torchvision = torch, torchvision
        startup["import"] = time.time() - t

        t = time.time()
        want = settings["device"]
        if want == "cuda" and not torch.cuda.is_available():
            raise SettingsError("DEVICE=cuda but torch sees no CUDA device (CUDA_VISIBLE_DEVICES=%r)"
                                % os.environ.get("CUDA_VISIBLE_DEVICES"))
        self.cuda = want == "cuda" or (want == "auto" and torch.cuda.is_available())
        if self.cuda:
            self.device = torch.device("cuda", torch.cuda.current_device())
            torch.backends.cudnn.benchmark = True
            torch.empty(1, device=self.device)  # create the CUDA context here, not in the timed window
            self.device_name = torch.cuda.get_device_name(self.device)
            self.capability = torch.cuda.get_device_capability(self.device)
            self.total_memory = torch.cuda.get_device_properties(self.device).total_memory
        else:
            self.device = torch.device("cpu")
            self.device_name = "cpu"
            self.capability = None
            self.total_memory = None
            if "OMP_NUM_THREADS" not in os.environ:
                # Some builds (Debian's torch 1.13 in a container) start with one thread:
                # measured 7x slower than with the cores this process may use.
                torch.set_num_threads(cpu_count())
        startup["device_init"] = time.time() - t

        self.precision = self._pick_precision(settings["precision"])
        self.dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self.precision]
        self.batch_size = self._pick_batch_size(settings["batch_size"])
        self.no_grad = torch.inference_mode if hasattr(torch, "inference_mode") else torch.no_grad
        self.memory_format = getattr(torch, "channels_last", torch.contiguous_format)

        t = time.time()
        self.model = self._load_model(settings["weights"])
        startup["model_load"] = time.time() - t

        self._init_preprocessing()
        self.graph = None
        self.graph_note = "off"
        self.gpu_decode_ok = self.cuda and version_tuple(torchvision.__version__) >= (0, 10)
        self.predictions = []
        self.pad_partial = self.cuda  # see infer(); on the CPU a short batch costs no autotuning
        # The model runs on a stream of its own (with CUDA_DEVICE_MAX_CONNECTIONS, see
        # set_cuda_connections, what lets nvJPEG's work run beside it).
        self.compute_stream = torch.cuda.Stream(device=self.device) if self.cuda else None

    def compute(self):
        """Context that makes the model's stream current (nothing on the CPU)."""
        return self.torch.cuda.stream(self.compute_stream) if self.cuda else _NoContext()

    def _pick_precision(self, wanted):
        torch = self.torch
        if wanted == "auto":
            return "fp16" if self.cuda else "fp32"
        if wanted == "fp16" and not self.cuda:
            log("PRECISION=fp16 needs a CUDA device; using fp32 on the CPU")
            return "fp32"
        if wanted == "bf16":
            if self.cuda:
                supported = getattr(torch.cuda, "is_bf16_supported", None)
                if not (supported() if supported else self.capability >= (8, 0)):
                    log("PRECISION=bf16 is not supported by %s; using fp16" % self.device_name)
                    return "fp16"
            elif version_tuple(torch.__version__) < (1, 12):
                log("PRECISION=bf16 on the CPU needs torch >= 1.12; using fp32")
                return "fp32"
        return wanted

    def _pick_batch_size(self, wanted):
        if wanted != "auto":
            return wanted
        if not self.cuda:
            return 16
        gib = self.total_memory / float(1 << 30)
        # fp16 ResNet-50 at 256 wants a few GiB of activations; a 4 GiB Jetson shares them with the CPU.
        return 256 if gib >= 15 else 64 if gib >= 7 else 16

    def _load_model(self, weights):
        torch, torchvision = self.torch, self.torchvision
        # No argument at all: random weights on every torchvision (old: pretrained=False, new: weights=None).
        model = torchvision.models.resnet50()
        if weights:
            state = torch.load(weights, map_location="cpu")
            if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
                state = state["state_dict"]
            if not isinstance(state, dict):
                raise SettingsError("WEIGHTS=%s holds no state_dict" % weights)
            state = dict((k[7:] if k.startswith("module.") else k, v) for k, v in state.items())
            try:
                model.load_state_dict(state)
            except RuntimeError as exc:
                raise SettingsError("WEIGHTS=%s does not fit ResNet-50: %s" % (weights, str(exc).splitlines()[0]))
        model.eval()
        return model.to(self.device, dtype=self.dtype).to(memory_format=self.memory_format)

    # -- model --
    def _forward(self, x):
        return self.model(x).argmax(dim=1)

    def prepare_graph(self, mode):
        """Capture the model at the full batch size as one CUDA graph: one launch per batch instead of
        hundreds, which matters while reader and decode threads share the interpreter. Eager if not."""
        torch = self.torch
        if mode == "auto":
            mode = "on" if graphs_by_default(torch) else "off"
        if mode == "off" or not self.cuda:
            self.graph_note = "off"
            return
        if not (hasattr(torch.cuda, "CUDAGraph") and hasattr(torch.cuda, "graph")):
            self.graph_note = "unavailable in torch %s" % torch.__version__
            return
        try:
            static_in = self.synthetic_batch(self.batch_size)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side), self.no_grad():
                for _ in range(3):
                    self._forward(static_in)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with self.no_grad(), torch.cuda.graph(graph):
                static_out = self._forward(static_in)
            torch.cuda.synchronize()
            self.graph = (graph, static_in, static_out)
            self.graph_note = "on"
        except Exception as exc:  # e.g. torch built for CUDA < 11 (JetPack 4.6)
            self.graph = None
            self.graph_note = "failed: %s" % str(exc).strip().splitlines()[0][:160]
            if mode == "on":
                log("CUDA_GRAPHS=on but capture failed, running eager: %s" % self.graph_note)
            torch.cuda.synchronize()

    def infer(self, x):
        """Queue the model on a normalized batch; keeps the predicted classes (on the device).
        A short batch (the last of a partition) is padded to the full batch size on a GPU: a new input
        shape would make cuDNN autotune every convolution again inside the timed window (about a
        second on an H100: 15 % of a 50,000-image run) and could not use the CUDA graph."""
        n = int(x.shape[0])
        if self.pad_partial and n < self.batch_size:
            pad = x.new_zeros((self.batch_size - n,) + tuple(x.shape[1:]))
            x = self.torch.cat([x, pad]).contiguous(memory_format=self.memory_format)
        if self.graph is not None and x.shape[0] == self.batch_size:
            graph, static_in, static_out = self.graph
            static_in.copy_(x)
            graph.replay()
            preds = static_out.clone()
        else:
            with self.no_grad():
                preds = self._forward(x)
        preds = preds[:n]
        self.predictions.append(preds)
        return preds

    def synthetic_batch(self, n):
        x = self.torch.randn((n, 3, CROP, CROP), device=self.device)
        return x.to(dtype=self.dtype, memory_format=self.memory_format)

    def warm_model(self, batches):
        with self.no_grad():
            for _ in range(batches):
                self._forward(self.synthetic_batch(self.batch_size))
        self.sync()

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

def graphs_by_default(torch):
    """CUDA_GRAPHS=auto: on where torch is built for CUDA >= 11 (graph capture needs it; JetPack 4.6's
    torch 1.10 is built for CUDA 10.2)."""
    cuda = getattr(getattr(torch, "version", None), "cuda", None)
    return bool(cuda) and version_tuple(cuda) >= (11, 0)


def _read_bytes(path):
    """The file's bytes in a bytearray (writable, so torch can wrap it without a copy)."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        data = bytearray(size)
        got = handle.readinto(data)
        if got == size:
            return data
        return bytearray(data[:got]) + bytearray(handle.read())  # the file changed size meanwhile


def _bytes_to_tensor(torch, data):
    if hasattr(torch, "frombuffer"):  # torch >= 1.10
        return torch.frombuffer(data, dtype=torch.uint8)
    import numpy as np
    return torch.from_numpy(np.frombuffer(bytes(data), dtype=np.uint8).copy())


# --- pipelines: iterables of (normalized batch on the device, number of images) ------------------

def synthetic_batches(rt, count):
    done = 0
    while done < count:
        n = min(rt.batch_size, count - done)
        yield rt.synthetic_batch(n), n
        done += n


def cpu_decode_batches(rt, files, workers, errors, prefetch):
    from torch.utils.data import DataLoader

    kwargs = {"batch_size": rt.batch_size, "shuffle": False, "num_workers": workers,
              "collate_fn": collate_decoded, "pin_memory": rt.cuda}
    if workers > 0:
        kwargs.update(worker_init_fn=_worker_init, prefetch_factor=max(2, prefetch))
    for batch, failures in DataLoader(DecodedFiles(files), **kwargs):
        for path, reason in failures:
            errors.add(path, reason)
        if batch.shape[0]:
            yield rt.normalize_nhwc(batch), int(batch.shape[0])


class _Stop(object):
    """End-of-stream marker in the decode queue."""


class WorkDispenser(object):
    """Hands out consecutive [start, end) ranges of n items to whoever asks first (thread-safe), so
    that a fast consumer (nvJPEG) and a slow one (CPU processes) share a list without a fixed split."""

    def __init__(self, total):
        self.total = total
        self.next = 0
        self._lock = threading.Lock()

    def take(self, n):
        with self._lock:
            if self.next >= self.total:
                return None
            start = self.next
            self.next = min(self.total, start + n)
            return start, self.next


class _DispensedBatches(object):
    """batch_sampler for a DataLoader: index lists taken from a WorkDispenser until it runs dry."""

    def __init__(self, dispenser, size):
        self.dispenser, self.size = dispenser, size

    def __iter__(self):
        while True:
            span = self.dispenser.take(self.size)
            if span is None:
                return
            yield list(range(span[0], span[1]))


class HardwareJpegDecoder(object):
    """Batched JPEG decoding with NVIDIA nvImageCodec (optional package nvidia-nvimgcodec-cu12/13 plus
    nvidia-nvjpeg): its hardware backend runs on the GPU's JPEG engines (A100, H100, ...), leaving the
    multiprocessors to the model; images the hardware cannot take go to its CUDA and CPU backends."""

    def __init__(self, rt):
        from nvidia import nvimgcodec
        self.rt, self.nvimgcodec = rt, nvimgcodec
        kinds = getattr(nvimgcodec, "BackendKind", nvimgcodec)
        # The hardware engine first; the hybrid backend takes what it refuses. (Its pure CUDA
        # backend failed to create on an H100 with nvImageCodec 0.9: "Could not create decoder".)
        names = ("HW_GPU_ONLY", "HYBRID_CPU_GPU")
        backends = [nvimgcodec.Backend(getattr(kinds, n)) for n in names if hasattr(kinds, n)]
        self.decoder = nvimgcodec.Decoder(device_id=rt.device.index or 0, backends=backends)

    def decode(self, blobs):
        """File contents (bytes) -> (decoded uint8 CHW device tensors, indices it refused).
        The decode is queued on the current CUDA stream, and the crop/resize that reads the images
        follows on the same stream."""
        torch = self.rt.torch
        streams = [self.nvimgcodec.CodeStream(blob) for blob in blobs]
        try:
            decoded = self.decoder.decode(streams, cuda_stream=torch.cuda.current_stream(self.rt.device).cuda_stream)
        except Exception:  # noqa: BLE001 - a whole-batch failure: let the per-image path sort it out
            decoded = [None] * len(streams)
        images, failed = [], []
        for i, img in enumerate(decoded):
            t = None if img is None else torch.as_tensor(img, device=self.rt.device)
            if t is None or t.dim() != 3 or int(t.shape[2]) != 3:
                failed.append(i)
                images.append(None)
            else:
                images.append(t.permute(2, 0, 1))  # HWC (interleaved RGB) -> CHW view
        return images, failed


class GpuDecodePipeline(object):
    """Reader threads load file bytes; one decode thread runs nvJPEG on whole batches and the crop,
    resize and normalize kernels on its own CUDA stream, and hands each finished batch (with an
    event) to the model, which meanwhile runs the previous batch on its own stream. With
    cpu_workers > 0, DataLoader processes decode a share of the files with Pillow at the same time
    (small batches, taken from the same dispenser, gathered into full batches on the GPU)."""

    def __init__(self, rt, files, readers, errors, prefetch, cpu_workers=0, hw=None):
        self.rt, self.files, self.errors = rt, files, errors
        self.hw = hw  # a HardwareJpegDecoder (DECODE=nvimgcodec) or None (torchvision's nvJPEG)
        self.readers = max(1, readers)
        self.prefetch = prefetch
        self.cpu_workers = cpu_workers
        self.dispenser = WorkDispenser(len(files))
        self.stop = threading.Event()
        self.ready = queue.Queue(maxsize=prefetch + (2 if cpu_workers else 0))
        self.fallbacks = 0
        self.by_path = {"nvimgcodec" if hw is not None else "nvjpeg": 0, "cpu": 0}

    def decode(self, paths, blobs):
        """Decoded uint8 CHW device tensors of the readable images; failures go to self.errors."""
        torch = self.rt.torch
        from torchvision.io import ImageReadMode, decode_jpeg

        raws, names = [], []
        for path, blob in zip(paths, blobs):
            if isinstance(blob, Exception):
                self.errors.add(path, blob)
            elif not blob:
                self.errors.add(path, "empty file")
            else:
                raws.append(blob)
                names.append(path)
        if not raws:
            return []
        if self.hw is not None:
            images, failed = self.hw.decode(raws)
            if not failed:
                return images
            self.fallbacks += 1  # redo only the files nvImageCodec refused, image by image
            return [img for img in images if img is not None] + self._decode_each(
                [names[i] for i in failed], [_bytes_to_tensor(torch, raws[i]) for i in failed])
        tensors = [_bytes_to_tensor(torch, raw) for raw in raws]
        if self.rt.batched_nvjpeg:
            try:
                return decode_jpeg(tensors, mode=ImageReadMode.RGB, device=self.rt.device)
            except RuntimeError:
                self.fallbacks += 1  # one bad file fails the whole call: redo this batch image by image
        return self._decode_each(names, tensors)

    def _decode_each(self, names, tensors):
        from torchvision.io import ImageReadMode, decode_image, decode_jpeg

        images = []
        for name, data in zip(names, tensors):
            try:
                images.append(decode_jpeg(data, mode=ImageReadMode.RGB, device=self.rt.device))
                continue
            except RuntimeError:
                pass
            try:  # nvJPEG refuses some files libjpeg reads (CMYK, PNG named .jpg): try the CPU
                images.append(decode_image(data, mode=ImageReadMode.RGB).to(self.rt.device))
            except Exception as exc:
                self.errors.add(name, exc)
        return images

    def _read_all(self, span):
        out = []
        for path in self.files[span[0]:span[1]]:
            try:
                out.append(_read_bytes(path))
            except (IOError, OSError) as exc:
                out.append(exc)
        return span, out

    def _stream(self):
        return self.rt.torch.cuda.Stream(device=self.rt.device) if self.rt.cuda else None

    def _finish(self, stream, make_batch):
        """Run make_batch on stream (if any) and queue (batch, event, n)."""
        torch = self.rt.torch
        if stream is None:
            batch, n = make_batch()
            self._put((batch, None, n))
            return
        with torch.cuda.stream(stream):
            batch, n = make_batch()
            event = torch.cuda.Event()
            event.record(stream)
        self._put((batch, event, n))

    def _produce_nvjpeg(self):
        from concurrent.futures import ThreadPoolExecutor

        bs = self.rt.batch_size
        pool = ThreadPoolExecutor(max_workers=self.readers)
        try:
            # On a CPU runtime (tests, a GPU-less debug run) the same code decodes with libjpeg.
            stream = self._stream()
            pending = []
            while True:
                while len(pending) < self.readers + self.prefetch and not self.stop.is_set():
                    span = self.dispenser.take(bs)
                    if span is None:
                        break
                    pending.append(pool.submit(self._read_all, span))
                if not pending or self.stop.is_set():
                    break
                span, blobs = pending.pop(0).result()
                paths = self.files[span[0]:span[1]]

                def make_batch():
                    images = self.decode(paths, blobs)
                    return (self.rt.gpu_crop_resize(images) if images else None), len(images)
                self._finish(stream, make_batch)
                self.by_path["nvimgcodec" if self.hw is not None else "nvjpeg"] += span[1] - span[0]
        except Exception as exc:  # handed to the consumer, which raises it
            self._put(exc)
        finally:
            pool.shutdown(wait=False)
            self._put(_Stop)

    def _start_cpu_workers(self):
        """The DataLoader of the CPU helpers, its worker processes started (forked) now: before any
        thread of this pipeline runs, because a child forked while other threads hold locks can hang
        on one of them (seen: a worker stuck for good while the reader threads were busy)."""
        from torch.utils.data import DataLoader

        small = max(1, min(self.rt.batch_size, 32))  # small, so that the CPU side holds little work at the end
        loader = DataLoader(DecodedFiles(self.files), batch_sampler=_DispensedBatches(self.dispenser, small),
                            num_workers=self.cpu_workers, collate_fn=collate_decoded,
                            pin_memory=self.rt.cuda, worker_init_fn=_worker_init, prefetch_factor=2)
        return iter(loader)

    def _produce_cpu(self, loader):
        """Pillow in worker processes on small batches; full-size batches assembled on the device."""
        torch = self.rt.torch
        bs = self.rt.batch_size
        try:
            stream = self._stream()
            gather = torch.empty((bs, CROP, CROP, 3), dtype=torch.uint8, device=self.rt.device)
            filled = [0]

            def flush():
                n = filled[0]
                filled[0] = 0
                return self.rt.normalize_nhwc(gather[:n]), n

            for batch, failures in loader:
                for path, reason in failures:
                    self.errors.add(path, reason)
                self.by_path["cpu"] += int(batch.shape[0]) + len(failures)
                if self.stop.is_set():
                    break
                offset = 0
                while offset < batch.shape[0]:
                    take = min(bs - filled[0], int(batch.shape[0]) - offset)
                    part = batch[offset:offset + take]
                    if stream is None:
                        gather[filled[0]:filled[0] + take].copy_(part)
                    else:
                        with torch.cuda.stream(stream):
                            gather[filled[0]:filled[0] + take].copy_(part, non_blocking=True)
                    filled[0] += take
                    offset += take
                    if filled[0] == bs:
                        self._finish(stream, flush)
            if filled[0] and not self.stop.is_set():
                self._finish(stream, flush)
        except Exception as exc:
            self._put(exc)
        finally:
            self._put(_Stop)

    def _put(self, item):
        while not self.stop.is_set():
            try:
                self.ready.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self):
        torch = self.rt.torch
        targets = [(self._produce_nvjpeg, ())]
        if self.cpu_workers > 0:
            targets.append((self._produce_cpu, (self._start_cpu_workers(),)))
        threads = [threading.Thread(target=t, args=a, name="jc-decode-%d" % i) for i, (t, a) in enumerate(targets)]
        for thread in threads:
            thread.daemon = True
            thread.start()
        running = len(threads)
        try:
            while running:
                item = self.ready.get()
                if item is _Stop:
                    running -= 1
                    continue
                if isinstance(item, Exception):
                    raise item
                batch, event, n = item
                if batch is None:
                    continue
                if event is not None:
                    current = torch.cuda.current_stream()
                    current.wait_event(event)
                    batch.record_stream(current)  # the allocator must not reuse it before the model is done
                yield batch, n
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=30)


class DecodeSide(Preprocessing):
    """What the decode process needs of a Runtime: the device and the preprocessing, no model."""

    def __init__(self, device_index, batch_size, precision):
        import torch
        import torchvision
        self.torch, self.torchvision = torch, torchvision
        self.cuda = device_index is not None
        if self.cuda:
            torch.cuda.set_device(device_index)
            self.device = torch.device("cuda", device_index)
        else:
            self.device = torch.device("cpu")
        self.batch_size = batch_size
        self.dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        self.memory_format = getattr(torch, "channels_last", torch.contiguous_format)
        self._init_preprocessing()


def _decode_process_main(control, out):
    """Body of the decode process: import torch at once (in parallel with the parent), wait for the
    job, warm nvJPEG up, report ready, then stream batches (CUDA tensors shared through IPC)."""
    try:
        import torch
        import torch.multiprocessing  # noqa: F401  (registers the CUDA tensor reductions)
        job = control.get()
        if job is None:
            return
        side = DecodeSide(job["device_index"], job["batch_size"], job["precision"])
        scratch = ErrorLog()
        for _ in GpuDecodePipeline(side, job["files"][:job["batch_size"]], job["readers"], scratch, 1):
            pass
        if side.cuda:
            torch.cuda.synchronize()
        out.put(("ready", None))
        if control.get() != "go":
            return
        errors = ErrorLog()
        pipe = GpuDecodePipeline(side, job["files"], job["readers"], errors, job["prefetch"])
        for batch, n in pipe:
            if side.cuda:
                torch.cuda.current_stream().synchronize()  # the batch is complete before it is handed over
            out.put(("batch", (batch, n)))
        out.put(("done", {"errors": errors.count, "samples": errors.samples, "fallbacks": pipe.fallbacks}))
        control.get()  # "bye": the parent holds no batch any more; exiting earlier would free them under it
    except Exception as exc:  # reported to the parent, which raises it
        out.put(("error", "%s: %s" % (type(exc).__name__, str(exc).strip()[:500])))


class DecodeProcess(object):
    """nvJPEG decoding in a process of its own, so in a CUDA context of its own (DECODE_PROCESS=on).
    Inside one process batched nvJPEG makes no progress while the model's kernels are queued (on any
    stream; measured on an H100), so decode and inference serialize. A second context does not wait
    for the first one's work, but without MPS the GPU time-slices between contexts: measured slower
    (5.3k against 7.5k img/s), so this is opt-in, for hosts that run the MPS daemon. Decoded,
    normalized batches come back as CUDA tensors through IPC (torch.multiprocessing); the parent
    keeps the last few alive until the model has read them."""

    def __init__(self):
        import multiprocessing
        ctx = multiprocessing.get_context("spawn")  # a CUDA context cannot be forked
        self.control = ctx.Queue()
        self.out = ctx.Queue(maxsize=4)
        self.proc = ctx.Process(target=_decode_process_main, args=(self.control, self.out),
                                name="jc-decode-process")
        self.proc.daemon = True
        self.proc.start()
        self.summary = None
        self.started = False

    def _get(self, timeout=600):
        kind, payload = self.out.get(timeout=timeout)
        if kind == "error":
            raise RuntimeError("decode process: %s" % payload)
        return kind, payload

    def start(self, rt, files, readers, prefetch):
        """Send the job; wait until the child has decoded its warm-up batch (untimed)."""
        self.started = True
        self.control.put({"files": files, "batch_size": rt.batch_size, "precision": rt.precision,
                          "readers": readers, "prefetch": prefetch,
                          "device_index": rt.device.index if rt.cuda else None})
        kind, _ = self._get()
        if kind != "ready":
            raise RuntimeError("decode process sent %r before it was ready" % kind)

    def batches(self, rt, errors):
        """Yield (batch, n); the model must be queued on each batch before the next is asked for."""
        torch = rt.torch
        import collections
        held = collections.deque()
        self.control.put("go")
        try:
            while True:
                kind, payload = self._get()
                if kind == "done":
                    self.summary = payload
                    errors.count += payload["errors"]
                    errors.samples.extend(payload["samples"][:MAX_ERROR_SAMPLES - len(errors.samples)])
                    break
                batch, n = payload
                yield batch, n
                if rt.cuda:
                    event = torch.cuda.Event()
                    event.record()
                    held.append((batch, event))
                    while len(held) > 2:  # the child may reuse a block only once the model has read it
                        old, old_event = held.popleft()
                        old_event.synchronize()
                        del old
            if rt.cuda:
                torch.cuda.synchronize()
            held.clear()
        finally:
            self.close()

    def close(self):
        if self.proc.is_alive():
            try:
                self.control.put("bye" if self.started else None)
            except (OSError, ValueError):
                pass
            self.proc.join(timeout=30)
            if self.proc.is_alive():
                self.proc.terminate()


def dali_batches(rt, files, workers, errors, prefetch):
    """NVIDIA DALI (mixed nvJPEG decode, GPU resize, crop and normalize), used when installed.
    DALI stops at a corrupt image; the files after the last delivered batch then go through the
    torchvision nvJPEG path, which counts the bad ones."""
    from nvidia.dali import fn, pipeline_def, types
    from nvidia.dali.plugin.pytorch import feed_ndarray

    torch = rt.torch
    bs = rt.batch_size

    @pipeline_def(batch_size=bs, num_threads=max(1, workers), device_id=rt.device.index,
                  prefetch_queue_depth=max(2, prefetch))
    def pipe():
        jpegs, _ = fn.readers.file(files=files, random_shuffle=False, name="reader")
        images = fn.decoders.image(jpegs, device="mixed", output_type=types.RGB)
        images = fn.resize(images, resize_shorter=float(RESIZE_SHORT), antialias=True)
        return fn.crop_mirror_normalize(images, crop=(CROP, CROP), dtype=types.FLOAT, output_layout="CHW",
                                        mean=[m * 255.0 for m in MEAN], std=[s * 255.0 for s in STD])

    p = pipe()
    p.build()
    done = 0
    try:
        while done < len(files):
            (out,) = p.run()
            dense = out.as_tensor()
            batch = torch.empty(dense.shape(), dtype=torch.float32, device=rt.device)
            feed_ndarray(dense, batch, cuda_stream=torch.cuda.current_stream())
            n = min(bs, len(files) - done)  # the reader wraps around to fill the last batch
            done += n
            yield batch[:n].to(dtype=rt.dtype, memory_format=rt.memory_format), n
    except RuntimeError as exc:
        log("DALI stopped (%s); the remaining %d files go through nvJPEG"
            % (str(exc).strip().splitlines()[0][:120], len(files) - done))
        for item in GpuDecodePipeline(rt, files[done:], READER_THREADS, errors, prefetch):
            yield item


# --- main -----------------------------------------------------------------------------------

def cpu_count():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


READER_THREADS = 4  # file reads for nvJPEG: page-cache or NFS reads release the GIL


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


def want_decode_process(settings):
    """Whether to start the decode process now, before torch is imported, so that both processes
    import at once: only when asked for (DECODE_PROCESS=on) and nvJPEG decoding is possible."""
    return settings["decode_process"] == "on" and settings["workload_mode"] == "files" \
        and settings["decode"] in ("auto", "gpu") and settings["device"] != "cpu" \
        and settings["num_workers"] in ("auto", 0)


def run(settings, plan, startup, errors, dp=None):
    rt = Runtime(settings, startup)
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
        return _run_on_stream(rt, settings, plan, errors, decode, workers, startup, dp)


def _run_on_stream(rt, settings, plan, errors, decode, workers, startup, dp):
    files = plan["files"]
    assigned = plan["end"] - plan["start"]
    # Untimed warm-up: cuDNN autotuning, graph capture, then the decoder on this partition's first files.
    t = time.time()
    if settings["warmup_batches"]:
        rt.warm_model(settings["warmup_batches"])
    rt.prepare_graph(settings["cuda_graphs"])
    if dp is not None:
        dp.start(rt, files, READER_THREADS, settings["prefetch_batches"])
    elif settings["warmup_batches"] and files and decode in ("gpu", "nvimgcodec", "cpu"):
        _warm_decoder(rt, decode, files[:rt.batch_size], workers)
    rt.sync()
    rt.predictions = []
    warmup_seconds = time.time() - t

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

    images = 0
    t0 = last_report = time.time()
    for batch, n in source:
        rt.infer(batch)
        images += n
        now = time.time()
        if now - last_report >= 5.0:
            log("%d/%d images, %.1f img/s" % (images, assigned, images / (now - t0)))
            last_report = now
    rt.sync()
    seconds = time.time() - t0

    top1 = rt.torch.cat(rt.predictions).cpu() if rt.predictions else None
    predicted = 0 if top1 is None else int(top1.numel())
    if predicted != images:
        raise RuntimeError("%d predictions for %d images" % (predicted, images))
    extra = {
        "cuda_graphs": rt.graph_note,
        "num_workers": workers,
        "top1_classes": 0 if top1 is None else int(top1.unique().numel()),
        "versions": {"python": "%d.%d.%d" % tuple(sys.version_info[:3]), "torch": rt.torch.__version__,
                     "torchvision": rt.torchvision.__version__},
    }
    extra["decode_process"] = dp is not None
    extra["cuda_device_max_connections"] = os.environ.get("CUDA_DEVICE_MAX_CONNECTIONS")
    if isinstance(source, GpuDecodePipeline):
        extra["batch_decode_fallbacks"] = source.fallbacks
        extra["decoded_by"] = dict(source.by_path)
    elif dp is not None and dp.summary:
        extra["batch_decode_fallbacks"] = dp.summary["fallbacks"]
    return build_result(settings, plan, images, errors, seconds, warmup_seconds, startup, str(rt.device),
                        rt.device_name, rt.batch_size, rt.precision, decode, extra)


def set_cuda_connections(environ=None):
    """Give the CUDA context CUDA_CONNECTIONS hardware work queues unless the environment already
    chose (CUDA_DEVICE_MAX_CONNECTIONS, read once, when CUDA starts: so before torch touches the GPU).
    CUDA maps every stream onto one of these queues; with its default of 8, the streams that
    torchvision's nvJPEG decoder creates share queues with the model's stream, and work in one queue
    runs in order, so each decode waited behind all the model kernels queued before it. Measured on
    an H100: nvJPEG decoded 170-870 img/s beside the model with 8 queues, 13,000 with 32."""
    environ = os.environ if environ is None else environ
    environ.setdefault("CUDA_DEVICE_MAX_CONNECTIONS", str(CUDA_CONNECTIONS))
    return environ["CUDA_DEVICE_MAX_CONNECTIONS"]


def main(argv=None):
    startup = {"interpreter": interpreter_seconds()}
    errors = ErrorLog()
    set_cuda_connections()
    try:
        settings = parse_settings(argv)
        plan = plan_work(settings)
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
        emit(build_result(settings, plan, 0, errors, 0.0, 0.0, startup, "none", "none",
                          settings["batch_size"], settings["precision"], "none"))
        return EXIT_OK
    dp = None
    if want_decode_process(settings):
        try:
            dp = DecodeProcess()
        except Exception as exc:  # e.g. no /dev/shm: decode in this process instead
            log("cannot start the decode process (%s); decoding in this process" % exc)
    try:
        result = run(settings, plan, startup, errors, dp)
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
    emit(result)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
