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

``compute_cpu`` is the CPU time of the thread running the blocks, ``cpu`` the stage process's CPU time per image (time.process_time() from the end of the
image before to the end of this one): its compute plus what gRPC's threads spend receiving,
decoding, framing and writing it, which the wall-clock fields cannot show when gRPC moves a
whole image off the stage's thread. With every stage pinned to one core (one core per node),
``cpu - compute_cpu`` is the stage's communication cost and 1 / the largest median ``cpu`` is the
chain's bound: ``ccr_cpu`` and ``bound_cpu_fps`` in chain_report. It is the whole process's CPU, so
it is only meaningful while the stage serves one stream (two clients at once share it). ``ccr()`` is the one place
either ratio is computed (the sink, the monolith, benchmarks/pipeline_bench.py and the report
use it). Each stage also logs one line of totals per run (``totals_line``), as the reference
experiment's stages did: receive, process and send seconds over all its images.
"""

import json
import math
import socket
import time

FIELDS = ("wait", "recv", "compute", "send", "cpu", "compute_cpu")


def thread_cpu():
    """CPU seconds of the calling thread (Python 3.6 has no time.thread_time; Linux has the clock)."""
    clock = getattr(time, "CLOCK_THREAD_CPUTIME_ID", None)
    return time.clock_gettime(clock) if clock is not None else time.process_time()


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
        timed = [r for r in self.records if "cpu" in r]
        # Process CPU per image beyond the blocks' own (thread) CPU: what receiving and sending
        # cost this stage. CPU against CPU, so a core shared with other work (preemption
        # stretches the wall-clock compute) does not hide it.
        out["median_comm_cpu"] = median([max(0.0, r["cpu"] - r.get("compute_cpu", r["compute"])) for r in timed]) \
            if timed else float("nan")
        if not timed:
            out["median_cpu"] = out["total_cpu"] = float("nan")
        if not any("compute_cpu" in r for r in self.records):
            out["median_compute_cpu"] = out["total_compute_cpu"] = float("nan")
        return out


def totals_line(summary):
    """The stage's totals over the run, one line (as the reference's stages logged them)."""
    return ("%s: %d images, receive %.3f s (idle wait %.3f s), process %.3f s, send %.3f s, CPU %.3f s"
            % (summary["stage"], summary["images"], summary["total_recv"], summary["total_wait"],
               summary["total_compute"], summary["total_send"], summary["total_cpu"]))


def _finite(value):
    return isinstance(value, (int, float)) and not (math.isnan(value) or math.isinf(value))


def ccr(stages, sink_recv=()):
    """Communication-to-computation ratios of one chain from its stages' summaries.

    ``wall``: (sum of the stages' median recv + send, plus the sink's median decode) / sum of
    the median compute. ``cpu``: sum of median (cpu - compute_cpu) / sum of median compute_cpu
    (the blocks' thread CPU; the wall-clock compute where a record has none), over the stages
    that measured CPU (NaN when none did). Both per image; NaN without computation."""
    compute = sum(s["median_compute"] for s in stages)
    comm = sum(s["median_recv"] + s["median_send"] for s in stages)
    if sink_recv:
        comm += median(list(sink_recv))
    cpu_stages = [s for s in stages if _finite(s.get("median_comm_cpu"))]
    comm_cpu = sum(s["median_comm_cpu"] for s in cpu_stages)
    compute_cpu = sum(s["median_compute_cpu"] if _finite(s.get("median_compute_cpu")) else s["median_compute"]
                      for s in cpu_stages)
    return {
        "communication": comm,
        "computation": compute,
        "wall": comm / compute if compute > 0 else float("nan"),
        "communication_cpu": comm_cpu if cpu_stages else float("nan"),
        "cpu": comm_cpu / compute_cpu if cpu_stages and compute_cpu > 0 else float("nan"),
    }


def chain_report(stages, arrivals, produced, sink_recv):
    """Report of one run from the stages' summaries (in chain order) and the sink's records.

    ``arrivals``/``produced``: per image, sink wall time when complete and producer timestamp.
    """
    count = len(arrivals)
    latencies = [a - p for a, p in zip(arrivals, produced)]
    span = arrivals[-1] - arrivals[0] if count > 1 else float("nan")
    fps = (count - 1) / span if count > 1 and span > 0 else float("nan")
    ratios = ccr(stages, sink_recv)
    slowest = max(stages, key=lambda s: s["median_service"]) if stages else None
    cpu_stages = [s for s in stages if _finite(s.get("median_cpu"))]
    busiest = max(cpu_stages, key=lambda s: s["median_cpu"]) if cpu_stages else None
    return {
        "images": count,
        "fps": fps,
        "latency_median": median(latencies),
        "latency_max": max(latencies) if latencies else float("nan"),
        "communication_median": ratios["communication"],
        "computation_median": ratios["computation"],
        "ccr": ratios["wall"],
        "communication_cpu_median": ratios["communication_cpu"],
        "ccr_cpu": ratios["cpu"],
        "slowest_stage": slowest["stage"] if slowest else None,
        "bound_fps": 1.0 / slowest["median_service"] if slowest and slowest["median_service"] > 0 else float("nan"),
        "busiest_cpu_stage": busiest["stage"] if busiest else None,
        "bound_cpu_fps": 1.0 / busiest["median_cpu"] if busiest and busiest["median_cpu"] > 0 else float("nan"),
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
