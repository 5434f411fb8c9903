# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""The CUDA driver's initialisation in a thread beside `import torch` (issue 15, "Time to result").

`import torch` holds the interpreter for 3-4 s; creating the CUDA context afterwards (cuInit and
the device's primary context) took another ~0.6 s on an H200. The driver API needs no torch: a
thread started first thing loads libcuda.so.1 with ctypes and calls cuInit(0), cuDeviceGet(0) and
cuDevicePrimaryCtxRetain. ctypes releases the GIL during each call, so this runs beside the
GIL-bound import, and torch's CUDA runtime later finds the primary context made (the runtime uses
the primary context; the retained reference is kept for the process's life).

Only when CUDA may be used (DEVICE auto or cuda, CUDA_PREINIT auto or on: the same, a visible device) and
libcuda loads; on failure nothing is left behind but the reason, which the result line reports
("cuda_preinit"). Device 0 of CUDA_VISIBLE_DEVICES is the one torch uses (its current device).
No torch here; Python >= 3.6."""

from __future__ import division, print_function

import ctypes
import os
import threading
import time

LIBCUDA = "libcuda.so.1"
JOIN_TIMEOUT = 120.0  # seconds the main thread waits for it at most (a hung driver hangs torch too)


def preinit_decision(settings, environ=None):
    """(wanted, reason): whether to start the driver's initialisation in a thread, and why not."""
    environ = os.environ if environ is None else environ
    setting = settings.get("cuda_preinit", "auto")
    if setting == "off":
        return False, "CUDA_PREINIT=off"
    if settings.get("device") == "cpu":
        return False, "DEVICE=cpu"
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip().split(",")[0].strip() in ("", "-1"):
        return False, "no visible device (CUDA_VISIBLE_DEVICES=%r)" % visible
    return True, ""


def _error_text(lib, code):
    name = ctypes.c_char_p()
    try:
        if lib.cuGetErrorName(code, ctypes.byref(name)) == 0 and name.value:
            return "%s (%d)" % (name.value.decode("ascii", "replace"), code)
    except Exception:  # pragma: no cover - a driver without cuGetErrorName
        pass
    return "error %d" % code


def driver_init(libname=LIBCUDA, ordinal=0):
    """cuInit, cuDeviceGet(ordinal), cuDevicePrimaryCtxRetain; returns None or the first failure."""
    try:
        lib = ctypes.CDLL(libname)
    except OSError as exc:
        return "cannot load %s: %s" % (libname, exc)
    code = lib.cuInit(0)
    if code:
        return "cuInit: %s" % _error_text(lib, code)
    device = ctypes.c_int()
    code = lib.cuDeviceGet(ctypes.byref(device), ordinal)
    if code:
        return "cuDeviceGet(%d): %s" % (ordinal, _error_text(lib, code))
    context = ctypes.c_void_p()
    code = lib.cuDevicePrimaryCtxRetain(ctypes.byref(context), device)
    if code:
        return "cuDevicePrimaryCtxRetain: %s" % _error_text(lib, code)
    return None


class CudaPreinit(object):
    """The thread and what it found. state: "off" (not started: reason), "running", "done" or
    "failed" (reason); seconds: the thread's own time; waited: how long join() blocked."""

    def __init__(self, settings, environ=None, init=driver_init):
        self.reason = ""
        self.seconds = None
        self.waited = 0.0
        self.thread = None
        self._init = init
        wanted, self.reason = preinit_decision(settings, environ)
        self.state = "off"
        if wanted:
            self.state = "running"
            self.thread = threading.Thread(target=self._run, name="jc-cuda-preinit")
            self.thread.daemon = True
            self.thread.start()

    def _run(self):
        t = time.time()
        try:
            failure = self._init()
        except Exception as exc:  # anything from ctypes: torch initialises CUDA itself, as without this
            failure = "%s: %s" % (type(exc).__name__, exc)
        self.seconds = time.time() - t
        self.state = "failed" if failure else "done"
        self.reason = failure or ""

    def join(self, timeout=JOIN_TIMEOUT):
        """Wait for the thread (before torch touches CUDA); returns the seconds waited."""
        if self.thread is not None:
            t = time.time()
            self.thread.join(timeout)
            self.waited += time.time() - t
            if self.thread.is_alive():
                self.state = "failed"
                self.reason = "still running after %.0f s" % timeout
            self.thread = None
        return self.waited

    def report(self):
        """What the result line says ("cuda_preinit")."""
        out = {"state": self.state, "waited": round(self.waited, 6)}
        if self.seconds is not None:
            out["seconds"] = round(self.seconds, 6)
        if self.reason:
            out["reason"] = self.reason
        return out
