"""The baseline: every block in one process and one thread, the same functions as the stages."""

import hashlib
import time

from . import metrics, ops, wire


def run(key, datacount, keep=False):
    spec = wire.parse_key(key)
    wire.check_datacount(datacount)
    log = metrics.StageLog("monolith", ops.BLOCKS)
    per_block = dict((block, []) for block in ops.BLOCKS)
    digest = hashlib.sha256()
    arrivals, produced, outputs = [], [], []
    for index, produced_at in wire.paced(spec["interval"], datacount):
        produced.append(produced_at)
        began = time.perf_counter()
        tick = began
        image = ops.produce(spec["width"], spec["height"], spec["seed"], index)
        per_block["produce"].append(time.perf_counter() - tick)
        for block in ops.BLOCKS[1:]:
            tick = time.perf_counter()
            image = ops.APPLY[block](image)
            per_block[block].append(time.perf_counter() - tick)
        log.add(index, compute=time.perf_counter() - began)
        arrivals.append(time.time())
        digest.update(image.tobytes())
        if keep:
            outputs.append(image)
    report = metrics.chain_report([log.summary()], arrivals, produced, [0.0])
    report.update(kind="monolith", depth=1, key=key, sha256=digest.hexdigest(),
                  median_block=dict((block, metrics.median(times)) for block, times in per_block.items()))
    if keep:
        report["outputs"] = outputs
    return report
