# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""The settings: environment variables of an indexed Job, or command-line flags of the same meaning."""

from __future__ import division, print_function

import argparse
import os

DEFAULT_IMAGE_DIR = "/data/images"

CUDA_CONNECTIONS = 16  # CUDA_DEVICE_MAX_CONNECTIONS unless the environment sets it (CUDA's default: 8)


class SettingsError(Exception):
    """A setting or the dataset is unusable; the message names the value."""


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
    ("CUDNN_BENCHMARK", "--cudnn-benchmark", "choice", "auto", ("auto", "on", "off")),
    ("WARMUP_OVERLAP", "--warmup-overlap", "choice", "auto", ("auto", "on", "off")),
    ("CUDA_PREINIT", "--cuda-preinit", "choice", "auto", ("auto", "on", "off")),
    ("PIPELINE_PRIME", "--pipeline-prime", "choice", "auto", ("auto", "on", "full", "off")),
    ("GC_FREEZE", "--gc-freeze", "choice", "auto", ("auto", "on", "off")),
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


def set_cuda_connections(environ=None):
    """Give the CUDA context CUDA_CONNECTIONS hardware work queues unless the environment already
    chose (CUDA_DEVICE_MAX_CONNECTIONS, read once, when CUDA starts: so before torch touches the GPU).
    CUDA maps every stream onto one of these queues; with its default of 8, the streams that
    torchvision's nvJPEG decoder creates share queues with the model's stream, and work in one queue
    runs in order, so each decode waited behind all the model kernels queued before it. Measured on
    an H100: nvJPEG decoded 170-870 img/s beside the model with 8 queues, 13,000 with 32. Each queue
    is a channel the driver also tears down at the process's exit, ~11 ms each above 8: on an H200
    (docs/benchmarks.md, runs 9c and 9d) 16 gave the window of 32 (20,000 and 200,000 files, with
    and without CPU helpers) and left the result line 0.21 s before the exit instead of 0.40 s; 8 and
    12 cost the window 19-24 %."""
    environ = os.environ if environ is None else environ
    environ.setdefault("CUDA_DEVICE_MAX_CONNECTIONS", str(CUDA_CONNECTIONS))
    return environ["CUDA_DEVICE_MAX_CONNECTIONS"]
