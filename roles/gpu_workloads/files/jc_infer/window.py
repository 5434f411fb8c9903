# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""The timed window's edges (issue 15, "Time to result"): a batch source primed before the window
(PIPELINE_PRIME), and where the window's time went (its first batch, its steady per-batch interval,
its tail), so that a short window's lower throughput can be told apart from a slower steady state.
No torch here; Python >= 3.6."""

from __future__ import division

import time

_NOTHING = object()

FILL_CAP = 2.0  # seconds PIPELINE_PRIME=full waits at most for the source's queue to fill


def prime_decision(setting, mode):
    """PIPELINE_PRIME auto|on|full|off: whether to start the batch source and wait for its first batch
    before the window opens (the wait counts in the warm-up as "pipeline_fill"): "off" (no), "on" (the
    first batch), "full" (the first batch, then until the source's prefetch queue is full). auto = full in the files mode (full waits only where the source has a queue to watch,
    the nvJPEG pipeline; elsewhere it is on), off for synthetic batches. Measured on 2x H200
    (docs/benchmarks.md, run 6): steady-state efficiency of 2 pods on 60,000 files 0.873 (off),
    0.911 (on), 0.947 (full)."""
    if setting == "auto":
        return "full" if mode == "files" else "off"
    return setting


class Primed(object):
    """Iterates over source; prime() takes its first item ahead of time (starting the source's
    threads and waiting until that item is ready), and iteration yields it first."""

    def __init__(self, source):
        self._it = iter(source)
        self._held = []  # the item prime() took, until iteration hands it on
        self.primed = False

    def prime(self, full=None, cap=FILL_CAP, clock=time.time, sleep=time.sleep):
        """Take the first item now (once); then, with full (a callable: is the source's queue
        full?), wait until it says so, at most cap seconds. False when the source is empty."""
        if not self.primed:
            self.primed = True
            item = next(self._it, _NOTHING)
            if item is not _NOTHING:
                self._held.append(item)
                if full is not None:
                    end = clock() + cap
                    while not full() and clock() < end:
                        sleep(0.002)
        return bool(self._held)

    def __iter__(self):
        while self._held:
            yield self._held.pop(0)
        for item in self._it:
            yield item


def _median(values):
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return None
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def window_profile(t0, marks, t_end, first=6):
    """Where a timed window [t0, t_end] went, from the time each batch was handed to the model
    (marks, ascending): "batches"; "first_batch" (t0 to the first mark: the pipeline's fill);
    "interval" (the median time between marks: the steady state); "tail" (the last mark to t_end:
    the last batches' inference and the final sync); "excess" (the window minus batches x interval:
    what the window cost beyond its steady rate); "first_intervals" (the first few, for a ramp);
    "slowest" (the longest gaps and where they were)."""
    seconds = t_end - t0
    out = {"batches": len(marks), "seconds": round(seconds, 6)}
    if not marks:
        return out
    gaps = [b - a for a, b in zip(marks, marks[1:])]
    interval = _median(gaps) if gaps else marks[0] - t0
    out.update({
        "first_batch": round(marks[0] - t0, 6),
        "interval": round(interval, 6),
        "tail": round(t_end - marks[-1], 6),
        "excess": round(seconds - len(marks) * interval, 6),
        "first_intervals": [round(g, 4) for g in gaps[:first]],
        # the slowest gaps, [batch number, seconds] (batch k's gap is marks[k] - marks[k-1])
        "slowest": [[k + 1, round(g, 4)] for k, g in sorted(enumerate(gaps), key=lambda x: -x[1])[:first]],
    })
    return out


def allocator_delta(before, after):
    """What the CUDA caching allocators did in the timed window, from two allocator_counts()
    snapshots (runtime.py): each counter's increase; None where either snapshot is missing (CPU)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return None
    return dict((k, after[k] - before[k]) for k in sorted(after) if k in before)
