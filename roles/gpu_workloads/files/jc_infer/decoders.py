# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""The decoders: iterables of (normalized batch on the device, number of images) from synthetic
tensors, Pillow in DataLoader workers, nvJPEG / nvImageCodec in batches (optionally in a process
of its own), or NVIDIA DALI."""

from __future__ import division, print_function

import os
import queue
import threading

from .preprocessing import CROP, MEAN, RESIZE_SHORT, STD, Preprocessing, pil_crop_resize
from .result import MAX_ERROR_SAMPLES, ErrorLog, log

READER_THREADS = 4  # file reads for nvJPEG: page-cache or NFS reads release the GIL

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
        ops = self.rt.image_ops

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
                return ops.decode_jpeg(tensors, self.rt.device)
            except RuntimeError:
                self.fallbacks += 1  # one bad file fails the whole call: redo this batch image by image
        return self._decode_each(names, tensors)

    def _decode_each(self, names, tensors):
        ops = self.rt.image_ops
        images = []
        for name, data in zip(names, tensors):
            try:
                images.append(ops.decode_jpeg(data, self.rt.device))
                continue
            except RuntimeError:
                pass
            try:  # nvJPEG refuses some files libjpeg reads (CMYK, PNG named .jpg): try the CPU
                images.append(ops.decode_image(data).to(self.rt.device))
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
        from .tvimage import ImageOps
        self.torch = torch
        self.image_ops = ImageOps(torch)
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

