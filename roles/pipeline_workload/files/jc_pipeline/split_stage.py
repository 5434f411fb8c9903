"""ResNet-50 split by layers as gRPC stages: the same GetDataService, Upstream, chunking and
failure reporting as the convolution chain (stage.py), carrying batches of activations.

Stage 0 makes the input batches (image i of a stream is uniform in [0, 1) of shape
3 x height x width from numpy's PCG64 seeded with (seed, i), as ops.produce does for the
convolution chain, so every process can make the same images) and runs its blocks; every other
stage pulls the batches from the stage before it. One stream item is one batch of ``batch``
images (the last may be smaller): the activation after the stage's last block, encoded by
tensors.encode (float16 between stages, float32 logits from the last) and framed by
wire.blob_replies (chunked when larger than the chunk size the consumer asked for). Every stage
must be given the same ``batch`` (the number of items it expects is ceil(datacount / batch)).
The request's key is ``<width>x<height>[,seed=N][,interval=S]`` as in wire.py (224x224 for
ImageNet); ``interval`` paces the batches.

The model is torchvision's resnet50 with weights from ``torch.manual_seed(seed)`` (every stage
builds the same ones) or a state_dict file; a stage keeps only its blocks' modules.

Per batch a stage records ``wait``, ``recv`` (decode + copy to the device), ``compute`` (its
blocks, synchronised on CUDA), ``send`` (copy to the host as float16/float32, encode, hand every
chunk to gRPC), ``cpu``/``compute_cpu`` as metrics.py defines them, plus ``images`` and
``bytes`` (the encoded batch it sent); its summary adds ``images_total``, ``batches`` and
``bytes_per_image`` (bytes crossing the cut after it, per image).
"""

import math
import sys
import time
import warnings

import grpc
import numpy as np

from . import metrics, split_plan, tensors, wire
from .stage import StageError, Upstream, idle_timeout_for, read_request, report_stream


def batches_for(datacount, batch):
    return int(math.ceil(datacount / float(batch)))


def make_inputs(spec, first, count):
    """Images first .. first+count-1 of a stream, stacked: float32 count x 3 x height x width."""
    out = np.empty((count, 3, spec["height"], spec["width"]), dtype=np.float32)
    for position in range(count):
        rng = np.random.Generator(np.random.PCG64([spec["seed"], first + position]))
        out[position] = rng.random((3, spec["height"], spec["width"]), dtype=np.float32)
    return out


def build_model(seed=0, weights=None):
    import torch
    import torchvision

    torch.manual_seed(seed)
    model = torchvision.models.resnet50()
    if weights:
        model.load_state_dict(torch.load(weights, map_location="cpu"))
    return model.eval()


def stage_module(model, blocks):
    """An nn.Sequential of the unsplit model's modules for ``blocks`` (consecutive, in order)."""
    import torch

    from .resnet_split import block_modules

    names = list(split_plan.BLOCKS)
    if not blocks or list(blocks) != names[names.index(blocks[0]):names.index(blocks[0]) + len(blocks)]:
        raise split_plan.SplitError("stage blocks %s are not consecutive blocks of %s" % (list(blocks), names))
    groups = block_modules(model)
    return torch.nn.Sequential(*[m for b in blocks for m in groups[b]]).eval()


class SplitStage(object):
    def __init__(self, blocks, upstream=None, device="cpu", batch=8, seed=0, weights=None, index=0,
                 chunk_bytes=wire.DEFAULT_CHUNK_BYTES, idle_timeout=30.0, connect_timeout=30.0, timings=None,
                 pull_chunk_bytes=wire.MAX_CHUNK_BYTES, model=None, input_cache_mb=0):
        import torch

        self.torch = torch
        self.blocks = tuple(blocks)
        if (self.blocks[0] == "stem") == bool(upstream):
            raise ValueError("the first stage (blocks from 'stem') has no upstream; every other stage has one")
        if batch < 1:
            raise ValueError("batch must be >= 1, not %r" % (batch,))
        self.name = "-".join(self.blocks)
        self.device = torch.device(device)
        self.module = stage_module(model if model is not None else build_model(seed, weights), self.blocks).to(self.device)
        self.last = self.blocks[-1] == "head"
        self.upstream, self.batch = upstream, batch
        self.chunk_bytes, self.pull_chunk_bytes = chunk_bytes, pull_chunk_bytes
        self.idle_timeout = idle_timeout_for(idle_timeout, index)
        self.connect_timeout, self.timings = connect_timeout, timings
        # Stage 0: input batches kept on the device between streams (up to this many MiB), so a
        # benchmark's timed streams, after a warm-up stream of the same key, do not time numpy's
        # generator (0: made afresh every time).
        self.input_cache_bytes, self.inputs = int(input_cache_mb) << 20, {}

    def _sync(self):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)

    def _produce(self, spec, datacount):
        for index, produced in wire.paced(spec["interval"], batches_for(datacount, self.batch)):
            first = index * self.batch
            yield index, produced, (first, min(self.batch, datacount - first)), 0.0, 0.0

    def _to_device(self, item, spec):
        if isinstance(item, tuple):
            key = (spec["seed"], spec["height"], spec["width"]) + item
            if key in self.inputs:
                return self.inputs[key]
            tensor = self.torch.from_numpy(make_inputs(spec, *item)).to(self.device)
            if sum(t.numel() * 4 for t in self.inputs.values()) + tensor.numel() * 4 <= self.input_cache_bytes:
                self.inputs[key] = tensor
            return tensor
        else:
            array = tensors.decode(item)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a read-only view of the message: copied by .to below
            tensor = self.torch.from_numpy(array)
        return tensor.to(self.device).float() if self.device.type == "cuda" else tensor.float()

    def GetData(self, request, context):  # noqa: N802 (the interface's name)
        torch = self.torch
        spec, chunk_bytes = read_request(self, request, context)
        log = metrics.StageLog(self.name, self.blocks)
        upstream = None
        if not self.upstream:
            source = self._produce(spec, request.datacount)
        else:
            upstream = Upstream(self.upstream, request, self.connect_timeout, self.idle_timeout,
                                on_call=lambda call: context.add_callback(call.cancel),
                                chunk_bytes=self.pull_chunk_bytes,
                                expected=batches_for(request.datacount, self.batch))
            source = upstream.images()
        cpu_mark = time.process_time()
        try:
            for index, produced, item, wait, recv in source:
                start = time.perf_counter()
                try:
                    x = self._to_device(item, spec)
                except wire.WireError as exc:
                    raise StageError(grpc.StatusCode.DATA_LOSS, "upstream %s sent a bad batch %d: %s"
                                     % (self.upstream, index, exc))
                self._sync()
                loaded, start_cpu = time.perf_counter(), metrics.thread_cpu()
                with torch.no_grad():
                    y = self.module(x)
                self._sync()
                computed, compute_cpu = time.perf_counter(), metrics.thread_cpu() - start_cpu
                out = y.to("cpu", dtype=torch.float32 if self.last else torch.float16).numpy()
                payload = tensors.encode(out)
                for message in wire.blob_replies(payload, index, produced, chunk_bytes):
                    yield message
                sent = time.perf_counter()
                cpu_now = time.process_time()
                log.add(index, wait=wait, recv=recv + loaded - start, compute=computed - loaded, send=sent - computed,
                        cpu=cpu_now - cpu_mark, compute_cpu=compute_cpu, images=int(x.shape[0]), bytes=len(payload))
                cpu_mark = cpu_now
        except StageError as exc:
            sys.stderr.write("%s: %s\n" % (self.name, exc))
            context.abort(exc.code, "stage %s: %s" % (self.name, exc))
        report_stream(self, context, upstream, self.summary(log), log.records)

    def summary(self, log):
        summary = log.summary()
        images = sum(r["images"] for r in log.records)
        summary.update(kind="resnet_split", device=str(self.device), batch=self.batch, batches=len(log.records),
                       images=images, bytes_per_image=(sum(r["bytes"] for r in log.records) / float(images)
                                                       if images else float("nan")))
        return summary


def pull(address, key, datacount, batch, connect_timeout=30.0, idle_timeout=300.0, keep=False,
         chunk_bytes=wire.MAX_CHUNK_BYTES):
    """The sink of a split chain: pull ``datacount`` images' logits from the last stage.

    Returns metrics.chain_report (per batch) with, per image: ``fps`` (images/s between the
    first and the last batch's arrival), ``bound_fps``/``bound_cpu_fps`` (images/s: batch / the
    slowest stage's median service or CPU time per batch), ``top1`` (the class of every image,
    in order), ``cut_bytes_per_image`` (bytes crossing each cut per image) and, with ``keep``,
    ``logits`` (float32 images x 1000). Raises stage.StageError when the chain fails.
    """
    from .sink import Request

    wire.parse_key(key)
    wire.check_datacount(datacount)
    upstream = Upstream(address, Request(key, datacount), connect_timeout, idle_timeout, chunk_bytes=chunk_bytes,
                        expected=batches_for(datacount, batch))
    arrivals, produced, recv, top1, logits, sizes = [], [], [], [], [], []
    for index, stamp, blob, _, received in upstream.images():
        start = time.perf_counter()
        try:
            out = tensors.decode(blob)
        except wire.WireError as exc:
            raise StageError(grpc.StatusCode.DATA_LOSS, "the last stage sent a bad batch %d: %s" % (index, exc))
        arrivals.append(time.time())
        produced.append(stamp)
        top1.extend(int(c) for c in out.argmax(axis=1))
        sizes.append(out.shape[0])
        if keep:
            logits.append(np.array(out, dtype=np.float32))
        recv.append(received + time.perf_counter() - start)
    report = metrics.chain_report(upstream.summaries, arrivals, produced, recv)
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
    for field in ("bound_fps", "bound_cpu_fps"):
        if report[field] is not None and not math.isnan(report[field]):
            report[field] *= batch
    report.update(kind="resnet_split", depth=len(upstream.summaries), key=key, batch=batch, images=len(top1),
                  batches=len(arrivals), fps=(sum(sizes[1:]) / span if span > 0 else float("nan")),
                  top1=top1, cut_bytes_per_image=[s.get("bytes_per_image") for s in upstream.summaries[:-1]])
    if keep:
        report["logits"] = np.concatenate(logits)
    return report
