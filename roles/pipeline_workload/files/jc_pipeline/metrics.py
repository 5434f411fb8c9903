"""Per-image timing records and their summaries (stage logs, sink report, bound, CCR).

A stage records per image: ``wait`` (blocked until the image's first chunk came from
upstream: idle, not counted as work), ``recv`` (first chunk to the whole image decoded; an
image sent as one message arrives whole, its transfer inside ``wait``),
``compute`` (its blocks), ``send`` (framing plus handing every chunk to gRPC, which returns
once the chunk is written or, when downstream is slower, once flow control lets it).
A stage's service time is recv + compute + send: the one thread is busy for that long per
image. The pipeline's bound is 1 / the largest median service time, measured in a paced run
(``interval`` in the key) where no stage waits on a slower neighbour; CCR is
sum(recv + send) / sum(compute) over the stages, per image.
"""

import json
import math
import socket
import time

FIELDS = ("wait", "recv", "compute", "send")


def median(values):
    values = sorted(values)
    if not values:
        return float("nan")
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2.0


class StageLog(object):
    def __init__(self, name, blocks):
        self.name = name
        self.blocks = list(blocks)
        self.records = []
        self.started = time.time()

    def add(self, index, **times):
        record = {"index": index}
        record.update(times)
        self.records.append(record)
        return record

    def summary(self):
        out = {"stage": self.name, "blocks": self.blocks, "host": socket.gethostname(),
               "images": len(self.records)}
        for field in FIELDS:
            values = [r.get(field, 0.0) for r in self.records]
            out["median_" + field] = median(values)
            out["total_" + field] = sum(values)
        out["median_service"] = median([r.get("recv", 0.0) + r["compute"] + r.get("send", 0.0)
                                        for r in self.records]) if self.records else float("nan")
        return out


def chain_report(stages, arrivals, produced, sink_recv):
    """Report of one run from the stages' summaries (in chain order) and the sink's records.

    ``arrivals``/``produced``: per image, sink wall time when complete and producer timestamp.
    """
    count = len(arrivals)
    latencies = [a - p for a, p in zip(arrivals, produced)]
    span = arrivals[-1] - arrivals[0] if count > 1 else float("nan")
    fps = (count - 1) / span if count > 1 and span > 0 else float("nan")
    comm = sum(s["median_recv"] + s["median_send"] for s in stages) + median(sink_recv)
    compute = sum(s["median_compute"] for s in stages)
    slowest = max(stages, key=lambda s: s["median_service"]) if stages else None
    return {
        "images": count,
        "fps": fps,
        "latency_median": median(latencies),
        "latency_max": max(latencies) if latencies else float("nan"),
        "communication_median": comm,
        "computation_median": compute,
        "ccr": comm / compute if compute > 0 else float("nan"),
        "slowest_stage": slowest["stage"] if slowest else None,
        "bound_fps": 1.0 / slowest["median_service"] if slowest and slowest["median_service"] > 0 else float("nan"),
        "stages": stages,
    }


def to_json(data):
    def clean(value):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value
    return json.dumps(clean(data), sort_keys=True)
