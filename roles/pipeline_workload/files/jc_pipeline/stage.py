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
# Call metadata by which a jc_pipeline client asks for chunks of this many bytes (see wire.py).
CHUNK_METADATA_KEY = "jc-chunk-bytes"
MAX_MESSAGE = wire.MAX_MESSAGE_BYTES
# A client with default options gets 1 MiB chunks; a jc_pipeline client raises its receive
# limit to this and may ask for chunks up to it (a whole 1280x720 image is 3.7 MB).
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)]
MIN_CHUNK, MAX_CHUNK = 4096, wire.MAX_CHUNK_BYTES
METHOD = "/conv.GetDataService/GetData"


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

    def __init__(self, address, request, connect_timeout, idle_timeout, on_call=None, chunk_bytes=None,
                 expected=None):
        self.address = address
        # Items the stream must hold: request.datacount images, or (the ResNet-50 split, whose
        # items are batches) ``expected``.
        self.expected = request.datacount if expected is None else expected
        self.chunk_bytes = chunk_bytes
        self.request = request
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.on_call = on_call
        self.summaries = []

    def images(self):
        address, request = self.address, self.request
        connect_timeout, idle_timeout, on_call = self.connect_timeout, self.idle_timeout, self.on_call
        pb2, _ = wire.modules()
        channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        try:
            try:
                grpc.channel_ready_future(channel).result(timeout=connect_timeout)
            except grpc.FutureTimeoutError:
                raise StageError(grpc.StatusCode.UNAVAILABLE,
                                 "upstream %s not reachable within %.0f s" % (address, connect_timeout))
            # The replies come as serialised bytes and are decoded by wire.reply_data (no
            # protobuf message per chunk); the request is an ordinary DataRequest.
            get_data = channel.unary_stream(METHOD, request_serializer=pb2.DataRequest.SerializeToString,
                                            response_deserializer=None)
            metadata = ((CHUNK_METADATA_KEY, str(self.chunk_bytes)),) if self.chunk_bytes else None
            call = get_data(pb2.DataRequest(key=request.key, datacount=request.datacount), metadata=metadata)
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
                        done_image = assembler.add(wire.reply_data(reply))
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
            if images != self.expected:
                raise StageError(grpc.StatusCode.DATA_LOSS, "upstream %s ended after %d of %d items"
                                 % (address, images, self.expected))
            self.summaries = upstream_summaries(dict(call.trailing_metadata() or ()))
        finally:
            channel.close()


def upstream_summaries(trailing):
    try:
        return json.loads(trailing.get(METADATA_KEY, "[]"))
    except ValueError:
        return []


def chunk_bytes_for(metadata, default):
    """The chunk size a call asked for in its metadata (clamped), else ``default``."""
    asked = dict(metadata or ()).get(CHUNK_METADATA_KEY)
    if asked is None:
        return default
    try:
        return min(MAX_CHUNK, max(MIN_CHUNK, int(asked)))
    except ValueError:
        raise wire.WireError("metadata %s=%r is not a number of bytes" % (CHUNK_METADATA_KEY, asked))


class Stage(object):
    """``chunk_bytes``: chunks for a client that asks for none; ``pull_chunk_bytes``: what this
    stage asks its upstream for (0 or None: nothing, the upstream's default)."""

    def __init__(self, blocks, upstream=None, chunk_bytes=wire.DEFAULT_CHUNK_BYTES, idle_timeout=30.0,
                 connect_timeout=30.0, timings=None, index=0, pull_chunk_bytes=wire.MAX_CHUNK_BYTES):
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
        self.pull_chunk_bytes = pull_chunk_bytes
        self.idle_timeout = idle_timeout_for(idle_timeout, index)
        self.connect_timeout = connect_timeout
        self.timings = timings

    def _produce(self, spec, count):
        for index, produced in wire.paced(spec["interval"], count):
            yield index, produced, None, 0.0, 0.0

    def GetData(self, request, context):  # noqa: N802 (the interface's name)
        spec, chunk_bytes = read_request(self, request, context)
        log = metrics.StageLog(self.name, self.blocks)
        upstream = None
        if self.blocks[0] == "produce":
            source, work = self._produce(spec, request.datacount), self.blocks[1:]
        else:
            upstream = Upstream(self.upstream, request, self.connect_timeout, self.idle_timeout,
                                on_call=lambda call: context.add_callback(call.cancel),
                                chunk_bytes=self.pull_chunk_bytes)
            source, work = upstream.images(), self.blocks
        cpu_mark = time.process_time()
        try:
            for index, produced, image, wait, recv in source:
                start, start_cpu = time.perf_counter(), metrics.thread_cpu()
                if image is None:
                    image = ops.produce(spec["width"], spec["height"], spec["seed"], index)
                image = ops.apply(work, image)
                computed, compute_cpu = time.perf_counter(), metrics.thread_cpu() - start_cpu
                for message in wire.replies(image, index, produced, chunk_bytes):
                    yield message
                sent = time.perf_counter()
                cpu_now = time.process_time()
                log.add(index, wait=wait, recv=recv, compute=computed - start, send=sent - computed,
                        cpu=cpu_now - cpu_mark, compute_cpu=compute_cpu)
                cpu_mark = cpu_now
        except StageError as exc:
            sys.stderr.write("%s: %s\n" % (self.name, exc))
            context.abort(exc.code, "stage %s: %s" % (self.name, exc))
        report_stream(self, context, upstream, log.summary(), log.records)


def read_request(stage, request, context):
    """(spec, chunk bytes) of a GetData request to ``stage``; a bad key or count aborts the call
    with INVALID_ARGUMENT naming the stage (context.abort raises)."""
    try:
        spec = wire.parse_key(request.key)
        wire.check_datacount(request.datacount)
        return spec, chunk_bytes_for(context.invocation_metadata(), stage.chunk_bytes)
    except wire.WireError as exc:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "%s: %s" % (stage.name, exc))


def report_stream(stage, context, upstream, summary, records):
    """The end of a stream: the chain's summaries so far plus this stage's as trailing metadata
    (the sink reads them), the summary and totals lines on stderr, the per-item records appended
    to the stage's timings file when it has one."""
    summaries = (upstream.summaries if upstream else []) + [summary]
    context.set_trailing_metadata(((METADATA_KEY, json.dumps(summaries)),))
    sys.stderr.write("%s: %s\n" % (stage.name, metrics.to_json(summary)))
    sys.stderr.write(metrics.totals_line(summary) + "\n")
    if stage.timings:
        with open(stage.timings, "a") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")


def serve(stage, listen, workers=2):
    """Start ``stage`` on ``listen``; returns (server, bound port)."""
    pb2, _ = wire.modules()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=CHANNEL_OPTIONS)
    # The generated add_GetDataServiceServicer_to_server with the replies already serialised
    # (wire.replies): the same method and wire bytes, no protobuf message per chunk.
    handler = grpc.unary_stream_rpc_method_handler(stage.GetData, request_deserializer=pb2.DataRequest.FromString,
                                                   response_serializer=None)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("conv.GetDataService",
                                                                          {"GetData": handler}),))
    try:
        # grpcio returns 0 (older) or raises RuntimeError (newer) when it cannot bind.
        port = server.add_insecure_port(listen)
    except RuntimeError:
        port = 0
    if not port:
        # IOError: the CLI turns it into one line and exit 2. A port is also taken when an
        # outgoing connection holds it as its local port, which any port inside the host's
        # ephemeral range (net.ipv4.ip_local_port_range) can be.
        raise IOError("cannot listen on %s: the address is in use or not this host's (a port inside "
                      "net.ipv4.ip_local_port_range can be held by any outgoing connection)" % listen)
    server.start()
    return server, port
