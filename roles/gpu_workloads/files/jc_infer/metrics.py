# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Workload metrics for Prometheus, through node_exporter's textfile collector.

A pod is a batch job, so it pushes rather than serves (Prometheus' guidance on pushing: per-node
batch results go to the textfile collector; a Pushgateway would outlive the pod's meaning). Where
METRICS_TEXTFILE_DIR names a directory (the node's node_exporter textfile directory, mounted into
the pod), the run writes <dir>/jc_infer_<workload>_<index>.prom atomically with
prometheus_client's write_to_textfile: at each phase, every few seconds of the timed window,
and at the end. Labels: workload (synthetic|files), index, total_jobs, node.

    jc_infer_phase{phase}                          1 for the phase the run is in (starting, warmup,
                                                   timed, done, failed), 0 for the others
    jc_infer_images_total, jc_infer_errors_total   images inferred, images that could not be used
    jc_infer_batch_seconds                         histogram: time from one batch to the next
    jc_benchmark_throughput_images_per_second      this pod's images / timed seconds (at the end);
                                                   the alert rule BenchmarkThroughputBelowBaseline
                                                   compares it with the workload's baseline
    jc_infer_last_update_timestamp_seconds         when the file was written

Without METRICS_TEXTFILE_DIR nothing is written. Without prometheus_client (not every image has
it) the run says so once on stderr and goes on: metrics never fail a measurement.
"""

from __future__ import division, print_function

import os
import time

from .result import log

TEXTFILE_DIR_VARIABLE = "METRICS_TEXTFILE_DIR"
PHASES = ("starting", "warmup", "timed", "done", "failed")
# Batches of 8..256 images take milliseconds (a dGPU) to seconds (a Nano on CPU decode).
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
WRITE_EVERY_S = 5.0


class Metrics(object):
    """The run's metrics; every method is a no-op when metrics are off."""

    def __init__(self, directory, workload, index, total_jobs, node=None, client=None):
        self.enabled = False
        self.path = None
        if not directory:
            return
        if client is None:
            try:
                import prometheus_client as client
            except ImportError:
                log("prometheus_client is not installed: no workload metrics in %s" % directory)
                return
        if not os.path.isdir(directory):
            log("%s=%s is not a directory: no workload metrics" % (TEXTFILE_DIR_VARIABLE, directory))
            return
        self.client = client
        self.registry = client.CollectorRegistry()
        self.path = os.path.join(directory, "jc_infer_%s_%s.prom" % (workload, index))
        names = ("workload", "index", "total_jobs", "node")
        self.labels = (str(workload), str(index), str(total_jobs), str(node or ""))
        registry = self.registry
        self._phase = client.Gauge("jc_infer_phase", "1 for the phase the run is in.", names + ("phase",),
                                   registry=registry)
        self._images = client.Counter("jc_infer_images_total", "Images inferred.", names, registry=registry)
        self._errors = client.Counter("jc_infer_errors_total", "Images that could not be used.", names,
                                      registry=registry)
        self._batch = client.Histogram("jc_infer_batch_seconds", "Time from one batch to the next.", names,
                                       buckets=BATCH_BUCKETS, registry=registry)
        self._throughput = client.Gauge("jc_benchmark_throughput_images_per_second",
                                        "This pod's images / timed seconds.", names, registry=registry)
        self._updated = client.Gauge("jc_infer_last_update_timestamp_seconds", "When this file was written.",
                                     names, registry=registry)
        self._last_write = 0.0
        self.enabled = True
        self.phase("starting")

    def _write(self):
        self._updated.labels(*self.labels).set(time.time())
        try:
            self.client.write_to_textfile(self.path, self.registry)
        except (IOError, OSError) as exc:
            log("cannot write workload metrics to %s (%s); no more metrics" % (self.path, exc))
            self.enabled = False
        self._last_write = time.time()

    def phase(self, name):
        if not self.enabled:
            return
        for known in PHASES:
            self._phase.labels(*(self.labels + (known,))).set(1.0 if known == name else 0.0)
        self._write()

    def batch(self, images, seconds):
        if not self.enabled:
            return
        self._images.labels(*self.labels).inc(images)
        self._batch.labels(*self.labels).observe(seconds)
        if time.time() - self._last_write >= WRITE_EVERY_S:
            self._write()

    def finish(self, result):
        """The result line's numbers: errors, throughput; the phase done."""
        if not self.enabled:
            return
        self._errors.labels(*self.labels).inc(result.get("errors", 0))
        self._throughput.labels(*self.labels).set(result.get("throughput", 0.0))
        self.phase("done")


def from_settings(settings, environ=None):
    """The run's Metrics from its settings and the environment (METRICS_TEXTFILE_DIR, NODE_NAME)."""
    environ = os.environ if environ is None else environ
    return Metrics(environ.get(TEXTFILE_DIR_VARIABLE, ""), settings["workload_mode"],
                   settings["job_completion_index"], settings["total_jobs"], environ.get("NODE_NAME"))


def timeline(warmup_start, window_start, seconds, environ=None):
    """Where the run's phases lie on the node's clock (epoch seconds) and which node ran it
    (NODE_NAME: the Kubernetes downward API's spec.nodeName, or the Docker runner's worker), for
    the report's telemetry plots."""
    environ = os.environ if environ is None else environ
    return {"node": environ.get("NODE_NAME") or None,
            "timeline": {"warmup_start": round(warmup_start, 3), "window_start": round(window_start, 3),
                         "window_end": round(window_start + seconds, 3)}}
