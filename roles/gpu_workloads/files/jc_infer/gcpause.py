# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Python's cyclic garbage collector during a run (issue 15, "Time to result").

Once torch, torchvision's extension and the model are loaded, the interpreter holds a few hundred
thousand objects that live as long as the process. CPython's collector scans every one of them in
each full (generation 2) collection, and runs one whenever the objects moved into the oldest
generation since the last full collection outnumber a quarter of it. In the timed window the
decode pipeline's short-lived objects (file bytes, tensors, queue entries: alive across two young
collections, so moved to the oldest generation even though they die soon after) count towards that
at a steady rate, so a full collection comes every few thousand images and holds the interpreter,
every Python thread of the pipeline included, while it scans.

GC_FREEZE auto | on | off:
    on    the collector is off from the start of main() (no collections during the imports, the
          model build and the warm-up); at the end of the warm-up, before the batch source and its
          worker processes start, gc.freeze() moves every object made so far into the permanent
          generation, which no collection scans, and the collector is on again for the rest of the
          run. Cyclic garbage made before that point is never freed (the imports' leftovers: small).
    auto  on where gc.freeze exists (Python >= 3.7), else off: Python 3.6 (JetPack 4) is left as it
          is.
    off   the collector as Python leaves it.
Whatever the setting, gc.callbacks records each collection (its generation and length) under the
phase the run is in; the result line's "gc" says what was done and what the collections cost.
No torch here; Python >= 3.6."""

from __future__ import division, print_function

import gc as _gc
import time

PHASES = ("startup", "warmup", "window", "after")


def freeze_decision(setting, gc_module=_gc):
    """(wanted, reason): whether to keep the collector off until the warm-up ends and then freeze."""
    if setting == "off":
        return False, "GC_FREEZE=off"
    if not hasattr(gc_module, "freeze"):
        return False, "this Python has no gc.freeze (3.7+)"
    return True, ""


class GcWatch(object):
    """The collector's part in one run: starts it off (when freezing), counts every collection by
    phase, and release() freezes what exists and turns it back on."""

    def __init__(self, setting="auto", gc_module=_gc, clock=time.time):
        self.gc = gc_module
        self.clock = clock
        self.wanted, self.reason = freeze_decision(setting, gc_module)
        self.phase_name = PHASES[0]
        self.stats = dict((p, {"collections": [0, 0, 0], "seconds": 0.0, "longest": 0.0}) for p in PHASES)
        self.frozen = False
        self.freeze_seconds = None
        self._started = None
        self._was_enabled = gc_module.isenabled()
        self._callbacks = getattr(gc_module, "callbacks", None)
        if self._callbacks is not None:
            self._callbacks.append(self._callback)
        if self.wanted:
            gc_module.disable()

    def _callback(self, phase, info):
        if phase == "start":
            self._started = self.clock()
            return
        if self._started is None:
            return
        seconds = self.clock() - self._started
        self._started = None
        entry = self.stats[self.phase_name]
        generation = info.get("generation", 2)
        entry["collections"][min(max(int(generation), 0), 2)] += 1
        entry["seconds"] += seconds
        entry["longest"] = max(entry["longest"], seconds)

    def phase(self, name):
        if name not in self.stats:
            raise ValueError("unknown phase %r (one of %s)" % (name, ", ".join(PHASES)))
        self.phase_name = name

    def release(self):
        """Freeze every object made so far and turn the collector back on (once; only when wanted)."""
        if not self.wanted or self.frozen:
            return
        t = self.clock()
        self.gc.freeze()  # O(1): the generations' lists are moved, not walked (counting them took 20 ms)
        self.frozen = True
        if self._was_enabled:
            self.gc.enable()
        self.freeze_seconds = self.clock() - t

    def close(self):
        """Stop counting; a run that ends before release() (an error) turns the collector back on."""
        if self._callbacks is not None and self._callback in self._callbacks:
            self._callbacks.remove(self._callback)
        if self.wanted and not self.frozen and self._was_enabled:
            self.gc.enable()

    def report(self):
        """What the result line says ("gc")."""
        out = {"freeze": "on" if self.wanted else "off"}
        if self.reason:
            out["reason"] = self.reason
        if self.frozen:
            out["freeze_seconds"] = round(self.freeze_seconds, 6)
        if self._callbacks is None:
            out["collections"] = "not recorded (no gc.callbacks)"
            return out
        for name in PHASES:
            entry = self.stats[name]
            out[name] = {"collections": list(entry["collections"]), "seconds": round(entry["seconds"], 6),
                         "longest": round(entry["longest"], 6)}
        return out
