#!/usr/bin/env python3
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""jc_gpu_exporter: GPU/SoC telemetry of one node for Prometheus.

Runs on every node (Python 3.6 on JetPack 4 and newer): reads one source at a steady interval,
parses each sample with the collection's telemetry parser into one normalised record, and serves
the latest record on ``http://ADDRESS:PORT/metrics``.

Sources (``--source``, ``auto`` picks the first that exists):

* ``tegrastats``: Jetson boards; one long-running ``tegrastats --interval MS`` process.
* ``nvidia-smi``: discrete GPUs; one long-running ``nvidia-smi --query-gpu=... --format=csv -lms MS``
  process, the fields chosen from the driver's own ``--help-query-gpu``.
* ``linux``: anything else; ``/proc/stat``, ``/proc/meminfo``, ``/sys/class/thermal``, cpufreq.

``--record FILE`` serves nothing: it appends every record to FILE as one JSON line
(``telemetry.trace_sample``: the node's epoch time, ``--node``, the record) until ``--stop-file``
appears or ``--max-seconds`` pass. The benchmark (gpu_workloads' tasks/telemetry_*.yml) records
every node so for the whole run; this mode needs no prometheus_client.

Port 9401 by default: not node_exporter's 9100 (which runs beside it on every node) and not
NVIDIA's DCGM exporter's 9400. The parser lives in ``plugins/module_utils/telemetry.py``; the
monitoring role copies it beside this file as ``jc_telemetry.py``.
"""

from __future__ import absolute_import, division, print_function

import argparse
import logging
import os
import subprocess
import sys
import threading
import time

try:  # on the nodes: copied beside this file by the monitoring role
    import jc_telemetry as telemetry
except ImportError:  # in the collection's tests
    from ansible_collections.edgeai.jetson_cluster.plugins.module_utils import telemetry

try:
    from prometheus_client import start_http_server
    from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily
except ImportError:  # --record needs no client: the benchmark records on nodes without it
    start_http_server = REGISTRY = CounterMetricFamily = GaugeMetricFamily = None

DEFAULT_PORT = 9401
LOG = logging.getLogger("jc_gpu_exporter")
MIB = 1024.0 * 1024.0


class State(object):
    """The latest record and the sampler's counters, shared by the sampler and the scrapes."""

    def __init__(self, source, sink=None):
        self.lock = threading.Lock()
        self.source = source
        self.sink = sink  # called with each record as it is parsed (--record)
        self.record = None
        self.updated = None
        self.samples = 0
        self.errors = 0
        self.restarts = 0
        self._last_error_log = 0.0

    def publish(self, record):
        with self.lock:
            self.record = record
            self.updated = time.time()
            self.samples += 1
            if self.sink is not None:
                self.sink(record)

    def error(self, message):
        with self.lock:
            self.errors += 1
            now = time.time()
            noisy = now - self._last_error_log < 60
            if not noisy:
                self._last_error_log = now
        if not noisy:  # at most one line a minute: a board printing garbage must not fill the journal
            LOG.warning("%s", message)

    def snapshot(self):
        with self.lock:
            return self.record, self.updated, self.samples, self.errors, self.restarts


# ---------------------------------------------------------------------------------------------
# Sources: each runs in the sampler thread and calls state.publish/state.error.
# ---------------------------------------------------------------------------------------------

def _pump_process(argv, state, handle_lines, stop, backoff_s):
    """Run a long-lived tool, feed its stdout to handle_lines, restart it when it dies."""
    while not stop.is_set():
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    universal_newlines=True, bufsize=1)
        except (IOError, OSError) as exc:
            state.error("cannot start %s: %s" % (argv[0], exc))
            stop.wait(backoff_s)
            continue
        try:
            handle_lines(proc.stdout)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            err = proc.stderr.read().strip() if proc.stderr else ""
            proc.stdout.close()
            proc.stderr.close()
        if stop.is_set():
            return
        with state.lock:
            state.restarts += 1
        state.error("%s exited with %s%s; restarting in %ss"
                    % (argv[0], proc.returncode, (": " + err[-300:]) if err else "", backoff_s))
        stop.wait(backoff_s)


def run_tegrastats(args, state, stop):
    def handle(lines):
        for line in lines:
            if stop.is_set():
                return
            if not line.strip():
                continue
            try:
                state.publish(telemetry.parse_tegrastats_line(line))
            except telemetry.TelemetryError as exc:
                state.error("tegrastats: %s" % exc)

    argv = [args.tegrastats, "--interval", str(int(args.interval * 1000))]
    _pump_process(argv, state, handle, stop, args.restart_backoff)


def run_nvidia_smi(args, state, stop):
    try:
        help_text = subprocess.check_output([args.nvidia_smi, "--help-query-gpu"], universal_newlines=True)
        fields = telemetry.nvidia_smi_query_fields(help_text)
    except (IOError, OSError, subprocess.CalledProcessError, telemetry.TelemetryError) as exc:
        state.error("nvidia-smi: cannot list the query fields: %s" % exc)
        stop.wait(args.restart_backoff)
        return

    def handle(lines):
        try:
            for block in telemetry.split_nvidia_smi_stream(lines):
                if stop.is_set():
                    return
                try:
                    state.publish(telemetry.parse_nvidia_smi_csv(block))
                except telemetry.TelemetryError as exc:
                    state.error("nvidia-smi: %s" % exc)
        except telemetry.TelemetryError as exc:
            state.error("nvidia-smi: %s" % exc)

    argv = [args.nvidia_smi, "--query-gpu=" + ",".join(fields), "--format=csv",
            "-lms", str(int(args.interval * 1000))]
    _pump_process(argv, state, handle, stop, args.restart_backoff)


def run_linux(args, state, stop):
    previous = None
    while not stop.is_set():
        started = time.time()
        try:
            snapshot = telemetry.read_linux_snapshot(args.root)
            if previous is not None:
                state.publish(telemetry.linux_record(previous, snapshot["stat"], snapshot["meminfo"],
                                                     snapshot["thermal"], snapshot["cpufreq_khz"],
                                                     snapshot["present"]))
            previous = snapshot["stat"]
        except telemetry.TelemetryError as exc:
            state.error("linux: %s" % exc)
        stop.wait(max(0.0, args.interval - (time.time() - started)))


SOURCES = {"tegrastats": run_tegrastats, "nvidia-smi": run_nvidia_smi, "linux": run_linux}


def _executable(path):
    if os.sep in path:
        return os.path.isfile(path) and os.access(path, os.X_OK)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if os.path.isfile(os.path.join(directory, path)) and os.access(os.path.join(directory, path), os.X_OK):
            return True
    return False


def choose_source(args):
    """``auto``: tegrastats on a Jetson, nvidia-smi on a dGPU node, else linux."""
    if args.source != "auto":
        return args.source
    if _executable(args.tegrastats):
        return "tegrastats"
    if _executable(args.nvidia_smi):
        return "nvidia-smi"
    return "linux"


# ---------------------------------------------------------------------------------------------
# The record as Prometheus metrics
# ---------------------------------------------------------------------------------------------

def _gauge(name, documentation, labels=()):
    return GaugeMetricFamily(name, documentation, labels=list(labels))


def record_metrics(record):
    """The normalised record -> metric families (no I/O; the unit tests call it directly)."""
    families = []
    gpu_labels = ("gpu", "name")
    util = _gauge("jc_gpu_utilization_ratio", "GPU busy share, 0-1 (tegrastats GR3D_FREQ, nvidia-smi utilization.gpu).", gpu_labels)
    clock = _gauge("jc_gpu_clock_hertz", "GPU (SM/GR3D) clock.", gpu_labels)
    clock_max = _gauge("jc_gpu_clock_max_hertz", "Highest GPU clock the GPU can run at.", gpu_labels)
    mem_used = _gauge("jc_gpu_memory_used_bytes", "GPU memory in use (discrete GPUs).", gpu_labels)
    mem_total = _gauge("jc_gpu_memory_total_bytes", "GPU memory (discrete GPUs).", gpu_labels)
    limit = _gauge("jc_gpu_power_limit_watts", "Enforced GPU power limit.", gpu_labels)
    reason = _gauge("jc_gpu_clock_event_reason", "1 while this NVML clock event reason is active.",
                    gpu_labels + ("reason",))
    throttled = _gauge("jc_gpu_throttled", "1 while power or heat pulls the GPU clock down (NVML reasons).", gpu_labels)
    for gpu in record["gpus"]:
        values = (str(gpu["index"]), gpu["name"] or "")
        if gpu["utilization_percent"] is not None:
            util.add_metric(values, gpu["utilization_percent"] / 100.0)
        if gpu["clock_mhz"] is not None:
            clock.add_metric(values, gpu["clock_mhz"] * 1e6)
        if gpu["clock_max_mhz"] is not None:
            clock_max.add_metric(values, gpu["clock_max_mhz"] * 1e6)
        if gpu["memory_used_mib"] is not None:
            mem_used.add_metric(values, gpu["memory_used_mib"] * MIB)
        if gpu["memory_total_mib"] is not None:
            mem_total.add_metric(values, gpu["memory_total_mib"] * MIB)
        if gpu["power_limit_w"] is not None:
            limit.add_metric(values, gpu["power_limit_w"])
        if gpu["clock_event_mask"] is not None:
            for _bit, name in telemetry.CLOCK_EVENT_REASONS:
                reason.add_metric(values + (name,), 1.0 if name in gpu["clock_event_reasons"] else 0.0)
        if gpu["throttled"] is not None:
            throttled.add_metric(values, 1.0 if gpu["throttled"] else 0.0)
    families.extend([util, clock, clock_max, mem_used, mem_total, limit, reason, throttled])

    temperature = _gauge("jc_temperature_celsius", "Temperature by sensor (tegrastats name, thermal zone type, GPUn).", ("sensor",))
    for sensor, value in sorted(record["temperatures_c"].items()):
        temperature.add_metric((sensor,), value)
    rail = _gauge("jc_power_rail_watts", "Power rail draw now (tegrastats rails, nvidia-smi power.draw).", ("rail",))
    rail_avg = _gauge("jc_power_rail_average_watts", "Power rail draw averaged by the tool.", ("rail",))
    for name, reading in sorted(record["power_rails_mw"].items()):
        if reading["current"] is not None:
            rail.add_metric((name,), reading["current"] / 1000.0)
        if reading["average"] is not None:
            rail_avg.add_metric((name,), reading["average"] / 1000.0)
    families.extend([temperature, rail, rail_avg])

    memory = record["memory"]
    for key, name, documentation in (
            ("ram_used_mib", "jc_memory_ram_used_bytes", "RAM in use (shared with the GPU on Jetson)."),
            ("ram_total_mib", "jc_memory_ram_total_bytes", "RAM."),
            ("swap_used_mib", "jc_memory_swap_used_bytes", "Swap in use."),
            ("swap_total_mib", "jc_memory_swap_total_bytes", "Swap.")):
        if memory[key] is not None:
            family = _gauge(name, documentation)
            family.add_metric((), memory[key] * MIB)
            families.append(family)

    online = _gauge("jc_cpu_online", "1 if the core is on, 0 if tegrastats/sysfs reports it off.", ("cpu",))
    load = _gauge("jc_cpu_load_ratio", "Core busy share, 0-1.", ("cpu",))
    freq = _gauge("jc_cpu_frequency_hertz", "Core clock.", ("cpu",))
    for cpu in record["cpus"]:
        label = (str(cpu["index"]),)
        online.add_metric(label, 1.0 if cpu["online"] else 0.0)
        if cpu["load_percent"] is not None:
            load.add_metric(label, cpu["load_percent"] / 100.0)
        if cpu["freq_mhz"] is not None:
            freq.add_metric(label, cpu["freq_mhz"] * 1e6)
    families.extend([online, load, freq])

    if record["emc"]:
        if record["emc"]["utilization_percent"] is not None:
            family = _gauge("jc_emc_utilization_ratio", "External memory controller busy share, 0-1 (Jetson).")
            family.add_metric((), record["emc"]["utilization_percent"] / 100.0)
            families.append(family)
        if record["emc"]["clock_mhz"] is not None:
            family = _gauge("jc_emc_clock_hertz", "External memory controller clock (Jetson).")
            family.add_metric((), record["emc"]["clock_mhz"] * 1e6)
            families.append(family)
    return families


class RecordCollector(object):
    """A prometheus_client collector that turns the latest record into metrics at scrape time."""

    def __init__(self, state, max_age_s):
        self.state = state
        self.max_age_s = max_age_s

    def collect(self):
        record, updated, samples, errors, restarts = self.state.snapshot()
        fresh = updated is not None and time.time() - updated <= self.max_age_s
        info = _gauge("jc_telemetry_source_info", "The source this exporter reads.", ("source",))
        info.add_metric((self.state.source,), 1.0)
        yield info
        up = _gauge("jc_telemetry_up", "1 if the latest sample is fresher than --max-age seconds.")
        up.add_metric((), 1.0 if fresh else 0.0)
        yield up
        if updated is not None:
            last = _gauge("jc_telemetry_last_sample_timestamp_seconds", "When the latest sample was parsed.")
            last.add_metric((), updated)
            yield last
        for name, documentation, value in (
                # "_total" given here: prometheus_client >= 0.4 strips and re-adds it, older ones
                # keep the name as given, so the sample is called the same with both.
                ("jc_telemetry_samples_total", "Samples parsed.", samples),
                ("jc_telemetry_parse_errors_total", "Lines or samples that failed to parse.", errors),
                ("jc_telemetry_source_restarts_total", "Times the source process exited and was restarted.", restarts)):
            counter = CounterMetricFamily(name, documentation)
            counter.add_metric((), value)
            yield counter
        if fresh:  # stale values are left out so that alerts never act on an old sample
            for family in record_metrics(record):
                yield family


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=["auto"] + sorted(SOURCES), default="auto")
    parser.add_argument("--address", default="0.0.0.0", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples (default 1)")
    parser.add_argument("--max-age", type=float, default=None,
                        help="seconds after which a sample is stale (default: 5 intervals, at least 5 s)")
    parser.add_argument("--tegrastats", default="tegrastats", help="tegrastats executable")
    parser.add_argument("--nvidia-smi", default="nvidia-smi", help="nvidia-smi executable")
    parser.add_argument("--root", default="/", help="root directory of /proc and /sys (linux source)")
    parser.add_argument("--restart-backoff", type=float, default=5.0, help="seconds before restarting a dead source")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--record", metavar="FILE", help="append each record to FILE as a JSON line; serve nothing")
    parser.add_argument("--node", default=None, help="--record: the node's name in each line (default: hostname)")
    parser.add_argument("--stop-file", default=None, help="--record: stop when this file exists")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="--record: stop after this long")
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error("--interval must be positive")
    if args.max_age is None:
        args.max_age = max(5.0, 5 * args.interval)
    return args


def record(args, source):
    """--record: append every record to args.record until the stop file appears or time is up."""
    import json
    import socket

    node = args.node or socket.gethostname()
    handle = open(args.record, "a")

    def sink(parsed):
        handle.write(json.dumps(telemetry.trace_sample(parsed, time.time(), node), sort_keys=True) + "\n")
        handle.flush()

    state = State(source, sink)
    stop = threading.Event()
    sampler = threading.Thread(target=SOURCES[source], args=(args, state, stop), name="sampler")
    sampler.daemon = True
    sampler.start()
    LOG.info("recording %s telemetry of %s to %s", source, node, args.record)
    deadline = time.time() + args.max_seconds
    while time.time() < deadline and not (args.stop_file and os.path.exists(args.stop_file)):
        if not sampler.is_alive():
            LOG.error("the %s sampler stopped", source)
            break
        time.sleep(min(0.5, args.interval))
    stop.set()
    sampler.join(10.0)
    with state.lock:
        handle.close()
        state.sink = None
    LOG.info("recorded %d samples (%d parse errors)", state.samples, state.errors)
    return 0 if state.samples else 1


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    source = choose_source(args)
    if args.record:
        return record(args, source)
    if REGISTRY is None:
        LOG.error("prometheus_client is not installed for %s: install it to serve metrics", sys.executable)
        return 2
    state = State(source)
    stop = threading.Event()
    REGISTRY.register(RecordCollector(state, args.max_age))
    sampler = threading.Thread(target=SOURCES[source], args=(args, state, stop), name="sampler")
    sampler.daemon = True
    sampler.start()
    start_http_server(args.port, addr=args.address)
    LOG.info("serving %s telemetry on %s:%d every %ss", source, args.address, args.port, args.interval)
    try:
        while sampler.is_alive():
            sampler.join(1.0)
    except KeyboardInterrupt:
        stop.set()
        return 0
    LOG.error("the %s sampler stopped; exiting so that systemd restarts the exporter", source)
    return 1


if __name__ == "__main__":
    sys.exit(main())
