#!/usr/bin/env python3
"""Experiments behind docs/benchmarks.md that did not go into the workload (jc_infer): kept so that
benchmarks/overlap_probe.py can measure them again.

NvjpegDecoder  nvJPEG's batched hardware decode called directly through ctypes, with PyTorch's
               caching allocators serving nvJPEG's device and pinned buffers, the output written
               into one (k, 3, H, W) tensor per image size, on a stream of the caller's priority.
green_stream   a CUDA stream on a "green context" (a fixed subset of the SMs), for the model, so
               that the decoder's kernels find free SMs.
Neither made decoding overlap the model; CUDA_DEVICE_MAX_CONNECTIONS did (docs/benchmarks.md).
"""

from __future__ import division, print_function

import ctypes
import glob
import os
import sys


class NvjpegError(RuntimeError):
    """nvJPEG could not be loaded or set up here (no library, no hardware decoder, old CUDA)."""


def _nvjpeg_candidates():
    """Library files that may hold NVIDIA nvJPEG's CUDA API: torchvision's bundled copy (built for
    the CUDA that torch uses), the nvidia-nvjpeg wheels, then the system's."""
    found = []
    for base in sys.path:
        if base and os.path.isdir(base):
            for pattern in ("torchvision.libs/libnvjpeg*.so*", "nvidia/*/lib/libnvjpeg.so*",
                            "nvidia/nvjpeg/lib/libnvjpeg.so*"):
                found.extend(sorted(glob.glob(os.path.join(base, pattern))))
    found.extend(["libnvjpeg.so", "libnvjpeg.so.13", "libnvjpeg.so.12", "libnvjpeg.so.11"])
    unique = []
    for name in found:
        if name not in unique:
            unique.append(name)
    return unique


class _NvjpegImage(ctypes.Structure):
    _fields_ = [("channel", ctypes.c_void_p * 4), ("pitch", ctypes.c_size_t * 4)]


_DEV_MALLOC = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t)
_DEV_FREE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_PINNED_MALLOC = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_uint)
_PINNED_FREE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _DevAllocator(ctypes.Structure):
    _fields_ = [("dev_malloc", _DEV_MALLOC), ("dev_free", _DEV_FREE)]


class _PinnedAllocator(ctypes.Structure):
    _fields_ = [("pinned_malloc", _PINNED_MALLOC), ("pinned_free", _PINNED_FREE)]


class NvjpegDecoder(object):
    """Batched JPEG decoding with NVIDIA nvJPEG called directly (ctypes), on the GPU's hardware JPEG
    decoder (NVJPG engines: A100, H100, ...). The same library torchvision's decode_jpeg uses, with
    three differences: nvJPEG's device and pinned buffers come from PyTorch's caching allocators
    instead of cudaMalloc/cudaFree and cudaHostAlloc/cudaFreeHost (whose frees wait for the whole
    device, the model included), the images are written straight into one uint8 (k, 3, H, W) tensor
    per image size, and the GIL is released while nvJPEG works. Not for Tegra: JetPack's libnvjpeg
    is a different (libjpeg-style) API, and the Nano has no NVJPG engine; creation fails there with
    NvjpegError and the caller uses torchvision's path."""

    BACKENDS = {"default": 0, "hybrid": 1, "gpu_hybrid": 2, "hardware": 3}
    OUTPUT_RGB = 3
    CSS_UNKNOWN = -1

    def __init__(self, torch, device, backend="hardware", torch_allocators=True):
        self.torch, self.device = torch, device
        self.backend_name = backend
        self.lib, self.library = self._load()
        self._pinned = {}
        self._keep = []
        c = ctypes
        dev_alloc = pinned_alloc = None
        if torch_allocators:
            dev_alloc = _DevAllocator(_DEV_MALLOC(self._dev_malloc), _DEV_FREE(self._dev_free))
            pinned_alloc = _PinnedAllocator(_PINNED_MALLOC(self._pinned_malloc), _PINNED_FREE(self._pinned_free))
            self._keep.extend([dev_alloc, pinned_alloc])
        self.handle, self.state, self.jstream = c.c_void_p(), c.c_void_p(), c.c_void_p()
        self._check(self.lib.nvjpegCreateEx(self.BACKENDS[backend], c.byref(dev_alloc) if dev_alloc else None,
                                            c.byref(pinned_alloc) if pinned_alloc else None, 0,
                                            c.byref(self.handle)), "nvjpegCreateEx(%s)" % backend)
        self._check(self.lib.nvjpegJpegStateCreate(self.handle, c.byref(self.state)), "nvjpegJpegStateCreate")
        self._check(self.lib.nvjpegJpegStreamCreate(self.handle, c.byref(self.jstream)), "nvjpegJpegStreamCreate")
        self._batch = None
        self.hardware = backend == "hardware"

    @staticmethod
    def _load():
        c, vp, ip = ctypes, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)
        problems = []
        for name in _nvjpeg_candidates():
            try:
                lib = c.CDLL(name)
                signatures = {
                    "nvjpegCreateEx": [c.c_int, vp, vp, c.c_uint, c.POINTER(vp)],
                    "nvjpegJpegStateCreate": [vp, c.POINTER(vp)],
                    "nvjpegJpegStreamCreate": [vp, c.POINTER(vp)],
                    "nvjpegJpegStreamParseHeader": [vp, vp, c.c_size_t, vp],
                    "nvjpegDecodeBatchedSupported": [vp, vp, ip],
                    "nvjpegGetImageInfo": [vp, vp, c.c_size_t, ip, ip, ip, ip],
                    "nvjpegDecodeBatchedInitialize": [vp, vp, c.c_int, c.c_int, c.c_int],
                    "nvjpegDecodeBatched": [vp, vp, c.POINTER(vp), c.POINTER(c.c_size_t),
                                            c.POINTER(_NvjpegImage), vp],
                }
                for func, argtypes in signatures.items():
                    getattr(lib, func).argtypes = argtypes
                    getattr(lib, func).restype = c.c_int
                return lib, name
            except (OSError, AttributeError) as exc:  # absent, or a libnvjpeg without the CUDA API (Tegra)
                problems.append("%s: %s" % (name, exc))
        raise NvjpegError("no usable libnvjpeg: " + "; ".join(problems[-3:]))

    @staticmethod
    def _check(status, what):
        if status != 0:
            raise NvjpegError("%s failed with nvJPEG status %d" % (what, status))

    # nvJPEG's allocators, served by PyTorch's (called from nvJPEG, in the decoding thread)
    def _dev_malloc(self, ptr, size):
        try:
            ptr[0] = self.torch.cuda.caching_allocator_alloc(max(1, size), device=self.device,
                                                             stream=self.torch.cuda.current_stream(self.device))
            return 0
        except Exception:  # noqa: BLE001 - an allocation failure is reported to nvJPEG, not raised
            return 2  # cudaErrorMemoryAllocation

    def _dev_free(self, ptr):
        try:
            if ptr:
                self.torch.cuda.caching_allocator_delete(ptr)
            return 0
        except Exception:  # noqa: BLE001
            return 1

    def _pinned_malloc(self, ptr, size, _flags):
        try:
            block = self.torch.empty(max(1, size), dtype=self.torch.uint8, pin_memory=True)
            self._pinned[block.data_ptr()] = block
            ptr[0] = block.data_ptr()
            return 0
        except Exception:  # noqa: BLE001
            return 2

    def _pinned_free(self, ptr):
        self._pinned.pop(ptr, None)
        return 0

    def decode(self, blobs):
        """File contents (bytes or bytearray) -> ({(height, width): (uint8 (k, 3, H, W) device tensor,
        [indices into blobs])}, [indices nvJPEG cannot take in a batch]). The decode is queued on the
        current CUDA stream, so kernels that read the images follow it on that stream."""
        c, torch, lib = ctypes, self.torch, self.lib
        info = []
        failed = []
        comps, sub = c.c_int(), c.c_int()
        widths, heights = (c.c_int * 4)(), (c.c_int * 4)()
        supported = c.c_int()
        keep = []  # the buffers nvJPEG reads stay alive (and unmoved) until the call returns
        for i, blob in enumerate(blobs):
            if not isinstance(blob, (bytes, bytearray)):
                blob = bytes(blob)
            keep.append(blob)
            if isinstance(blob, bytearray):
                address = c.addressof((c.c_char * len(blob)).from_buffer(blob)) if blob else None
            else:
                address = c.cast(c.c_char_p(blob), c.c_void_p).value if blob else None
            if not address:
                failed.append(i)
                continue
            status = lib.nvjpegGetImageInfo(self.handle, address, len(blob), c.byref(comps), c.byref(sub),
                                            widths, heights)
            if status != 0 or sub.value == self.CSS_UNKNOWN or heights[0] <= 0 or widths[0] <= 0:
                failed.append(i)
                continue
            if self.hardware:  # the hardware decoder takes baseline JPEGs only; a batch fails whole
                if lib.nvjpegJpegStreamParseHeader(self.handle, address, len(blob), self.jstream) != 0 or \
                        lib.nvjpegDecodeBatchedSupported(self.handle, self.jstream, c.byref(supported)) != 0 \
                        or supported.value != 0:
                    failed.append(i)
                    continue
            info.append((i, address, len(blob), int(heights[0]), int(widths[0])))
        groups = {}
        for i, _address, _length, height, width in info:
            groups.setdefault((height, width), []).append(i)
        if not info:
            return {}, failed
        out = {}
        places = {}
        for (height, width), idx in groups.items():
            tensor = torch.empty((len(idx), 3, height, width), dtype=torch.uint8, device=self.device)
            out[(height, width)] = (tensor, idx)
            base, plane = tensor.data_ptr(), height * width
            for j, i in enumerate(idx):
                places[i] = (base + 3 * j * plane, plane, width)
        n = len(info)
        data = (c.c_void_p * n)(*[address for _i, address, _l, _h, _w in info])
        lengths = (c.c_size_t * n)(*[length for _i, _a, length, _h, _w in info])
        images = (_NvjpegImage * n)()
        for k, (i, _a, _l, _h, _w) in enumerate(info):
            start, plane, width = places[i]
            for ch in range(3):
                images[k].channel[ch] = start + ch * plane
                images[k].pitch[ch] = width
        if self._batch != n:
            self._check(lib.nvjpegDecodeBatchedInitialize(self.handle, self.state, n, 1, self.OUTPUT_RGB),
                        "nvjpegDecodeBatchedInitialize")
            self._batch = n
        stream = torch.cuda.current_stream(self.device).cuda_stream
        status = lib.nvjpegDecodeBatched(self.handle, self.state, data, lengths, images, stream)
        if status != 0:  # one image the header check let through: hand the whole batch back
            return {}, sorted(failed + [i for i, _a, _l, _h, _w in info])
        return out, failed


class GreenContextError(RuntimeError):
    """No SM partition here (driver older than CUDA 12.4, no libcuda, not an NVIDIA GPU, a split refused)."""


def green_stream(torch, device_index, model_sms):
    """A CUDA stream whose kernels run on a fixed subset of model_sms multiprocessors (a CUDA "green
    context", driver API through ctypes; rounded down to the split granularity), and the number of
    SMs left outside it. The model runs on it, so that the few kernels of the JPEG decoder always find
    free multiprocessors instead of queueing behind the model's. Returns (stream, info)."""
    c = ctypes
    try:
        cu = c.CDLL("libcuda.so.1")
        for name in ("cuDeviceGetDevResource", "cuDevSmResourceSplitByCount", "cuDevResourceGenerateDesc",
                     "cuGreenCtxCreate", "cuGreenCtxStreamCreate"):
            getattr(cu, name).restype = c.c_int
    except (OSError, AttributeError) as exc:
        raise GreenContextError("green contexts unavailable: %s" % exc)

    def check(status, what):
        if status != 0:
            raise GreenContextError("%s failed with CUresult %d" % (what, status))
    torch.cuda.init()
    device = c.c_int()
    check(cu.cuDeviceGet(c.byref(device), int(device_index)), "cuDeviceGet")
    # CUdevResource: a 4-byte type, 92 bytes of padding, then the SM count (CUDA 12.4-13 headers);
    # the buffers are larger than the struct so that later additions at its end do no harm.
    whole, group, rest = (c.create_string_buffer(1024) for _ in range(3))
    check(cu.cuDeviceGetDevResource(device, whole, 1), "cuDeviceGetDevResource(SM)")  # CU_DEV_RESOURCE_TYPE_SM
    total = c.c_uint.from_buffer(whole, 96).value
    groups = c.c_uint(1)
    check(cu.cuDevSmResourceSplitByCount(group, c.byref(groups), whole, rest, 0, c.c_uint(int(model_sms))),
          "cuDevSmResourceSplitByCount(%d)" % model_sms)
    got = c.c_uint.from_buffer(group, 96).value
    if groups.value != 1 or not 0 < got < total:
        raise GreenContextError("split of %d SMs gave %d group(s) of %d SMs" % (total, groups.value, got))
    desc, gctx, stream = c.c_void_p(), c.c_void_p(), c.c_void_p()
    check(cu.cuDevResourceGenerateDesc(c.byref(desc), group, 1), "cuDevResourceGenerateDesc")
    check(cu.cuGreenCtxCreate(c.byref(gctx), desc, device, 1), "cuGreenCtxCreate")  # CU_GREEN_CTX_DEFAULT_STREAM
    check(cu.cuGreenCtxStreamCreate(c.byref(stream), gctx, 1, 0), "cuGreenCtxStreamCreate")  # non-blocking
    external = torch.cuda.ExternalStream(stream.value, device=torch.device("cuda", int(device_index)))
    return external, {"sms_total": total, "sms_model": got, "sms_free": total - got, "green_context": gctx.value}
