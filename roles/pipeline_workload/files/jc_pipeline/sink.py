"""The sink: pulls the last stage's stream and reports the run (fps, latency, CCR, bound)."""

import hashlib
import time

from . import metrics, stage, wire


class Request(object):
    def __init__(self, key, datacount):
        self.key = key
        self.datacount = datacount


def run(address, key, datacount, connect_timeout=30.0, idle_timeout=30.0, keep=False,
        chunk_bytes=wire.MAX_CHUNK_BYTES):
    """Pull ``datacount`` images of ``key`` from the stage at ``address``.

    Returns the report (metrics.chain_report plus ``sha256`` of all output images in order and,
    with ``keep``, ``outputs``: the images). ``chunk_bytes``: the chunk size to ask the last
    stage for (0 or None: its default). Raises stage.StageError when the chain fails.
    """
    wire.parse_key(key)
    wire.check_datacount(datacount)
    upstream = stage.Upstream(address, Request(key, datacount), connect_timeout, idle_timeout,
                              chunk_bytes=chunk_bytes)
    digest = hashlib.sha256()
    arrivals, produced, recv, outputs = [], [], [], []
    for _, stamp, image, _, received in upstream.images():
        arrivals.append(time.time())
        produced.append(stamp)
        recv.append(received)
        digest.update(image.tobytes())
        if keep:
            outputs.append(image)
    report = metrics.chain_report(upstream.summaries, arrivals, produced, recv)
    report.update(kind="pipeline", depth=len(upstream.summaries), key=key, sha256=digest.hexdigest())
    if keep:
        report["outputs"] = outputs
    return report
