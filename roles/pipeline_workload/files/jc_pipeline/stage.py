"""One stage of the chain: a ``conv.GetDataService`` server that runs its blocks on every image
it produces (stage 0) or pulls from the stage before it (stages 1..n-1), and streams the result.

Failure handling: a stage that cannot reach its upstream within ``connect_timeout``, whose
upstream stream fails, or that gets no message from upstream for its idle timeout ends
its own stream with UNAVAILABLE and a message naming itself and the upstream, so the error
travels down the chain to the sink with every hop in it. A downstream that goes away cancels
the upstream call, so the chain above it stops too.

When a stage stalls, every stage below it goes quiet at about the same moment; so that the one
right below the stall is the one that reports it, stage i waits ``idle_timeout_for(base, i)``
= base * (1 + i / 2) (the last of four waits 2.5 x base) and the sink should wait longer still.
"""

import json
import sys
import threading
import time
from concurrent import futures

import grpc

from . import metrics, ops, wire

METADATA_KEY = "jc-stages"
# Raised limits are not needed (every message is one chunk), but a client that asks for
# big chunks is not refused.
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]


def idle_timeout_for(base, index):
    """Seconds stage ``index`` waits for its upstream's next message (see the module doc)."""
    return base * (1 + index / 2.0)


class StageError(Exception):
    """The stage's upstream failed; the message says where and how."""

    def __init__(self, code, message):
        Exception.__init__(self, message)
        self.code = code


class Upstream(object):
    """The GetData stream of the stage at ``address``, as decoded images.

    ``images()`` yields (index, produced, image, wait, recv) and raises StageError on any
    failure; afterwards ``summaries`` holds the stage summaries the upstream chain sent in its
    trailing metadata. ``on_call`` gets the call object (to cancel it from outside).
    """

    def __init__(self, address, request, connect_timeout, idle_timeout, on_call=None):
        self.address = address
        self.request = request
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.on_call = on_call
        self.summaries = []

    def images(self):
        address, request = self.address, self.request
        connect_timeout, idle_timeout, on_call = self.connect_timeout, self.idle_timeout, self.on_call
        pb2, pb2_grpc = wire.modules()
        channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        try:
            try:
                grpc.channel_ready_future(channel).result(timeout=connect_timeout)
            except grpc.FutureTimeoutError:
                raise StageError(grpc.StatusCode.UNAVAILABLE,
                                 "upstream %s not reachable within %.0f s" % (address, connect_timeout))
            call = pb2_grpc.GetDataServiceStub(channel).GetData(pb2.DataRequest(key=request.key, datacount=request.datacount))
            if on_call is not None:
                on_call(call)
            # The idle clock runs only while this stage waits on upstream: time spent handing an
            # image downstream (a slow consumer) is not upstream's silence.
            idle = {"since": time.time(), "waiting": True}
            stalled = threading.Event()
            done = threading.Event()

            def watchdog():
                while not done.wait(min(1.0, idle_timeout / 4.0)):
                    if idle["waiting"] and time.time() - idle["since"] > idle_timeout:
                        stalled.set()
                        call.cancel()
                        return

            threading.Thread(target=watchdog, name="idle-watchdog", daemon=True).start()
            assembler = wire.Assembler()
            images = 0
            try:
                waiting = time.perf_counter()
                first = waiting
                for reply in call:
                    now = time.perf_counter()
                    idle["since"] = time.time()
                    if not assembler.partial:
                        first = now
                    try:
                        done_image = assembler.add(reply.data)
                    except wire.WireError as exc:
                        raise StageError(grpc.StatusCode.DATA_LOSS, "upstream %s sent a bad message: %s" % (address, exc))
                    if done_image is None:
                        continue
                    index, produced, image = done_image
                    images += 1
                    idle["waiting"] = False
                    yield index, produced, image, first - waiting, time.perf_counter() - first
                    idle["since"], idle["waiting"] = time.time(), True
                    waiting = time.perf_counter()
            except grpc.RpcError as exc:
                if stalled.is_set():
                    raise StageError(grpc.StatusCode.UNAVAILABLE, "upstream %s sent nothing for %.0f s after %d images"
                                     % (address, idle_timeout, images))
                raise StageError(exc.code() if exc.code() != grpc.StatusCode.CANCELLED else grpc.StatusCode.UNAVAILABLE,
                                 "upstream %s failed after %d images: %s: %s"
                                 % (address, images, exc.code().name, exc.details()))
            finally:
                done.set()
            if assembler.partial:
                raise StageError(grpc.StatusCode.DATA_LOSS, "upstream %s ended inside an image" % address)
            if images != request.datacount:
                raise StageError(grpc.StatusCode.DATA_LOSS, "upstream %s ended after %d of %d images"
                                 % (address, images, request.datacount))
            self.summaries = upstream_summaries(dict(call.trailing_metadata() or ()))
        finally:
            channel.close()


def upstream_summaries(trailing):
    try:
        return json.loads(trailing.get(METADATA_KEY, "[]"))
    except ValueError:
        return []


class Stage(object):
    def __init__(self, blocks, upstream=None, chunk_bytes=wire.DEFAULT_CHUNK_BYTES, idle_timeout=30.0,
                 connect_timeout=30.0, timings=None, index=0):
        blocks = tuple(blocks)
        unknown = [b for b in blocks if b not in ops.BLOCKS]
        if not blocks or unknown:
            raise ValueError("stage blocks must be some of %s, got %s" % (list(ops.BLOCKS), list(blocks)))
        if ("produce" in blocks) != (blocks[0] == "produce") or (blocks[0] == "produce") == bool(upstream):
            raise ValueError("the producing stage (first block 'produce') has no upstream; every other stage has one")
        self.blocks = blocks
        self.name = ops.stage_name(blocks)
        self.upstream = upstream
        self.chunk_bytes = chunk_bytes
        self.idle_timeout = idle_timeout_for(idle_timeout, index)
        self.connect_timeout = connect_timeout
        self.timings = timings

    def _produce(self, spec, count):
        start = time.time()
        for index in range(count):
            if spec["interval"]:
                delay = start + index * spec["interval"] - time.time()
                if delay > 0:
                    time.sleep(delay)
            yield index, time.time(), None, 0.0, 0.0

    def GetData(self, request, context):  # noqa: N802 (the interface's name)
        pb2, _ = wire.modules()
        try:
            spec = wire.parse_key(request.key)
            wire.check_datacount(request.datacount)
        except wire.WireError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "%s: %s" % (self.name, exc))
        log = metrics.StageLog(self.name, self.blocks)
        upstream = None
        if self.blocks[0] == "produce":
            source, work = self._produce(spec, request.datacount), self.blocks[1:]
        else:
            upstream = Upstream(self.upstream, request, self.connect_timeout, self.idle_timeout,
                                on_call=lambda call: context.add_callback(call.cancel))
            source, work = upstream.images(), self.blocks
        try:
            for index, produced, image, wait, recv in source:
                start = time.perf_counter()
                if image is None:
                    image = ops.produce(spec["width"], spec["height"], spec["seed"], index)
                image = ops.apply(work, image)
                computed = time.perf_counter()
                for payload in wire.frames(image, index, produced, self.chunk_bytes):
                    yield pb2.DataReply(data=payload)
                log.add(index, wait=wait, recv=recv, compute=computed - start, send=time.perf_counter() - computed)
        except StageError as exc:
            sys.stderr.write("%s: %s\n" % (self.name, exc))
            context.abort(exc.code, "stage %s: %s" % (self.name, exc))
        summaries = (upstream.summaries if upstream else []) + [log.summary()]
        context.set_trailing_metadata(((METADATA_KEY, json.dumps(summaries)),))
        sys.stderr.write("%s: %s\n" % (self.name, metrics.to_json(log.summary())))
        if self.timings:
            with open(self.timings, "a") as handle:
                for record in log.records:
                    handle.write(json.dumps(record) + "\n")


def serve(stage, listen, workers=2):
    """Start ``stage`` on ``listen``; returns (server, bound port)."""
    _, pb2_grpc = wire.modules()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=CHANNEL_OPTIONS)
    pb2_grpc.add_GetDataServiceServicer_to_server(stage, server)
    port = server.add_insecure_port(listen)
    if not port:
        raise RuntimeError("cannot listen on %s" % listen)
    server.start()
    return server, port
