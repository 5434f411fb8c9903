"""The baseline: every block in one process and one thread, the same functions as the stages."""

import hashlib
import time

from . import metrics, ops, wire


def run(key, datacount, keep=False, digest=True):
    """``digest``: hash the outputs (sha256 in the report). The hashing runs in the monolith's
    one thread (a chain's sink hashes in its own process), so timed runs leave it off."""
    spec = wire.parse_key(key)
    wire.check_datacount(datacount)
    log = metrics.StageLog("monolith", ops.BLOCKS)
    per_block = dict((block, []) for block in ops.BLOCKS)
    hasher = hashlib.sha256() if digest else None
    arrivals, produced, outputs = [], [], []
    cpu_mark = time.process_time()
    for index, produced_at in wire.paced(spec["interval"], datacount):
        produced.append(produced_at)
        began, began_cpu = time.perf_counter(), metrics.thread_cpu()
        tick = began
        image = ops.produce(spec["width"], spec["height"], spec["seed"], index)
        per_block["produce"].append(time.perf_counter() - tick)
        for block in ops.BLOCKS[1:]:
            tick = time.perf_counter()
            image = ops.APPLY[block](image)
            per_block[block].append(time.perf_counter() - tick)
        cpu_now = time.process_time()
        log.add(index, compute=time.perf_counter() - began, cpu=cpu_now - cpu_mark,
                compute_cpu=metrics.thread_cpu() - began_cpu)
        cpu_mark = cpu_now
        arrivals.append(time.time())
        if hasher is not None:
            hasher.update(image.tobytes())
        if keep:
            outputs.append(image)
    report = metrics.chain_report([log.summary()], arrivals, produced, [0.0])
    report.update(kind="monolith", depth=1, key=key, sha256=hasher.hexdigest() if hasher else None,
                  median_block=dict((block, metrics.median(times)) for block, times in per_block.items()))
    if keep:
        report["outputs"] = outputs
    return report
