# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""torch, the device, the model (eager or as a CUDA graph) for one process."""

from __future__ import division, print_function

import os
import time

from .compat import NoContext, cpu_count, version_tuple
from .preprocessing import CROP, Preprocessing
from .resnet import factory_kwargs_supported, resnet50
from .result import log
from .settings import SettingsError
from .tvimage import ImageOps


class Runtime(Preprocessing):
    """torch, the device, the model and the preprocessing for one process."""

    def __init__(self, settings, startup, preinit=None):
        t = time.time()
        import torch
        startup["import_torch"] = time.time() - t
        self.torch = torch
        t = time.time()
        # torchvision's decoders only (its image extension; the package on old releases): the model
        # is jc_infer's own (resnet.py), so the package's __init__ (models, ops, torch._dynamo) is not run.
        self.image_ops = load_image_ops(torch)
        startup["import_torchvision"] = time.time() - t

        t = time.time()
        # The driver's initialisation, started in a thread before `import torch` (cudainit.py): wait
        # for it here, before torch's first CUDA call; device_init includes the wait.
        if preinit is not None:
            preinit.join()
        self.cuda_preinit = preinit.report() if preinit is not None else {"state": "off", "reason": "not started"}
        want = settings["device"]
        if want == "cuda" and not torch.cuda.is_available():
            raise SettingsError("DEVICE=cuda but torch sees no CUDA device (CUDA_VISIBLE_DEVICES=%r)"
                                % os.environ.get("CUDA_VISIBLE_DEVICES"))
        self.cuda = want == "cuda" or (want == "auto" and torch.cuda.is_available())
        if self.cuda:
            self.device = torch.device("cuda", torch.cuda.current_device())
            # cuDNN autotuning: every convolution's algorithms timed once, in the warm-up (see cudnn_benchmark).
            torch.backends.cudnn.benchmark = cudnn_benchmark(settings.get("cudnn_benchmark", "auto"))
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
        self.warmup_overlap = self.cuda and warmup_overlap(settings.get("warmup_overlap", "auto"),
                                                          torch.backends.cudnn.benchmark)

        self.precision = self._pick_precision(settings["precision"])
        self.dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self.precision]
        self.batch_size = self._pick_batch_size(settings["batch_size"])
        self.no_grad = torch.inference_mode if hasattr(torch, "inference_mode") else torch.no_grad
        self.memory_format = getattr(torch, "channels_last", torch.contiguous_format)

        self.model = self._load_model(settings["weights"], startup)

        self._init_preprocessing()
        self.graph = None
        self.graph_note = "off"
        self.gpu_decode_ok = self.cuda and self.image_ops is not None and version_tuple(self.image_ops.version) >= (0, 10)
        self.predictions = []
        self.pad_partial = self.cuda  # see infer(); on the CPU a short batch costs no autotuning
        # The model runs on a stream of its own (with CUDA_DEVICE_MAX_CONNECTIONS, see
        # set_cuda_connections, what lets nvJPEG's work run beside it).
        self.compute_stream = torch.cuda.Stream(device=self.device) if self.cuda else None

    def compute(self):
        """Context that makes the model's stream current (nothing on the CPU)."""
        return self.torch.cuda.stream(self.compute_stream) if self.cuda else NoContext()

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

    def _load_model(self, weights, startup):
        """ResNet-50 on the device; startup gets "model_build" (construction, random init, moving it to
        the device and dtype) and "weights" (reading and loading WEIGHTS, 0 without)."""
        torch = self.torch
        t = time.time()
        if self.cuda and factory_kwargs_supported(torch):
            # Created and initialised on the GPU: no CPU init of 25 M parameters, no copy. (Not on the
            # meta device: with torch 2.11 and without torchvision imported, that took 3.3-5 s,
            # docs/benchmarks.md.)
            model = resnet50(torch, device=self.device)
        else:
            model = resnet50(torch)
        startup["model_build"] = time.time() - t
        t = time.time()
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
        startup["weights"] = time.time() - t
        t = time.time()
        model.eval()
        model = model.to(self.device, dtype=self.dtype).to(memory_format=self.memory_format)
        self.sync()
        startup["model_build"] += time.time() - t
        return model

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

    def allocator_counts(self):
        """The CUDA caching allocators' cumulative counters (allocator_delta): device segments
        allocated (cudaMalloc) and freed, allocation retries (a cache flush then cudaMalloc again),
        and pinned host blocks allocated (cudaHostAlloc); those this torch does not keep are left
        out. None on the CPU."""
        if not self.cuda:
            return None
        cuda = self.torch.cuda
        counts = {}
        try:
            stats = cuda.memory_stats(self.device)
        except Exception:  # noqa: BLE001 - a diagnostic never fails a run
            stats = {}
        for key, name in (("segment.all.allocated", "device_segments_allocated"),
                          ("segment.all.freed", "device_segments_freed"),
                          ("num_alloc_retries", "alloc_retries")):
            if isinstance(stats.get(key), int):
                counts[name] = stats[key]
        host = getattr(cuda, "host_memory_stats", None)  # torch >= 2.5
        if host is not None:
            try:
                value = host().get("num_host_alloc")
            except Exception:  # noqa: BLE001
                value = None
            if isinstance(value, int):
                counts["host_blocks_allocated"] = value
        return counts

def cudnn_benchmark(setting):
    """CUDNN_BENCHMARK (cuDNN times every convolution's algorithms in the warm-up and keeps the
    fastest): auto = off. Measured on 2x H200 (docs/benchmarks.md, "Time to result"): autotuning
    costs ~0.5 s of warm-up and gave the same timed-window throughput as cuDNN's heuristics."""
    return setting == "on"


def warmup_overlap(setting, autotuning):
    """WARMUP_OVERLAP: the decoder's warm-up in a thread beside the model's (measured on 2x H200:
    warm-up 2.2 -> 1.2 s with autotuning, 0.8 s without). auto = only without cuDNN autotuning: nvJPEG
    kernels beside the autotuner's timings may make it keep slower algorithms; with both on, 2 of 6
    two-GPU pods ran their window at 9.8k instead of 12.4k img/s (without autotuning: 1 of 12, and
    0 of 12 with neither; the cause is not pinned down, docs/benchmarks.md "Time to result")."""
    if setting == "auto":
        return not autotuning
    return setting == "on"


def load_image_ops(torch):
    """torchvision's decoders (tvimage.ImageOps), or None without torchvision (CPU decoding only)."""
    try:
        return ImageOps(torch)
    except ImportError as exc:
        log("no torchvision (%s): decoding with Pillow on the CPU" % exc)
        return None


def graphs_by_default(torch):
    """CUDA_GRAPHS=auto: on where torch is built for CUDA >= 11 (graph capture needs it; JetPack 4.6's
    torch 1.10 is built for CUDA 10.2)."""
    cuda = getattr(getattr(torch, "version", None), "cuda", None)
    return bool(cuda) and version_tuple(cuda) >= (11, 0)
