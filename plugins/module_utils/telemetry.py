# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Parse node telemetry into one normalised record.

Three sources, one record shape:

* ``tegrastats`` lines of every Jetson generation (TX1 on L4T 28, Nano/TX2/Xavier on JetPack 4,
  Orin on JetPack 5/6/7): :func:`parse_tegrastats_line`;
* ``nvidia-smi --query-gpu=... --format=csv`` on discrete GPUs: :func:`parse_nvidia_smi_csv`
  (the clock event reasons bitmask decoded with NVML's constants);
* plain Linux (``/proc/stat``, ``/proc/meminfo``, ``/sys/class/thermal``): :func:`linux_record`,
  with :func:`read_linux_snapshot` to read those files below a root directory.

The record (a plain dict, JSON-serialisable)::

    {"source": "tegrastats" | "nvidia-smi" | "linux",
     "timestamp": "04-11-2025 10:36:27" or None,         # as the tool printed it
     "gpus": [{"index": 0, "name": ..., "utilization_percent": 84.0, "clock_mhz": 713.0,
               "clock_max_mhz": None, "memory_used_mib": None, "memory_total_mib": None,
               "power_limit_w": None, "clock_event_mask": None, "clock_event_reasons": [],
               "throttled": None}],
     "temperatures_c": {"CPU": 44.5, "GPU": 41.5},        # absent sensors (-256C) left out
     "power_rails_mw": {"POM_5V_IN": {"current": 4122.0, "average": 3107.0}},
     "memory": {"ram_used_mib": .., "ram_total_mib": .., "swap_used_mib": .., "swap_total_mib": ..,
                "swap_cached_mib": ..},
     "cpus": [{"index": 0, "online": True, "load_percent": 16.0, "freq_mhz": 1479.0},
              {"index": 1, "online": False, "load_percent": None, "freq_mhz": None}],
     "emc": {"utilization_percent": 4.0, "clock_mhz": 1600.0} or None}

Every parser raises :class:`TelemetryError` (a ``ValueError``) with a message naming what was
wrong for garbage or truncated input; nothing else escapes. Pure Python 3.6+ without third-party
imports: the GPU exporter (``roles/monitoring/files/jc_gpu_exporter.py``) imports this file on
JetPack 4's Python 3.6.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import functools
import io
import os
import re


class TelemetryError(ValueError):
    """The text is not what the parser reads, or is cut short."""


def _guarded(func):
    """Turn any slip on malformed input into a TelemetryError naming the parser."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except TelemetryError:
            raise
        except (ValueError, IndexError, KeyError, TypeError, AttributeError, OverflowError) as exc:
            raise TelemetryError("%s: cannot parse the input (%s: %s)" % (func.__name__, type(exc).__name__, exc))

    return wrapper


def _excerpt(text, limit=80):
    text = text if isinstance(text, str) else repr(text)
    return text if len(text) <= limit else text[:limit] + "..."


def _gpu(index, name=None):
    return {
        "index": index,
        "name": name,
        "utilization_percent": None,
        "clock_mhz": None,
        "clock_max_mhz": None,
        "memory_used_mib": None,
        "memory_total_mib": None,
        "power_limit_w": None,
        "clock_event_mask": None,
        "clock_event_reasons": [],
        "throttled": None,
    }


def empty_record(source, timestamp=None):
    """The record shape with nothing measured yet."""
    return {
        "source": source,
        "timestamp": timestamp,
        "gpus": [],
        "temperatures_c": {},
        "power_rails_mw": {},
        "memory": {
            "ram_used_mib": None,
            "ram_total_mib": None,
            "swap_used_mib": None,
            "swap_total_mib": None,
            "swap_cached_mib": None,
        },
        "cpus": [],
        "emc": None,
    }


# ---------------------------------------------------------------------------------------------
# tegrastats
# ---------------------------------------------------------------------------------------------

# tegrastats sensors that report -256C are absent on this module (e.g. CV0/CV1/GPU on an
# idle AGX Orin); tegrastats prints them anyway.
ABSENT_SENSOR_C = -256.0
# "NC" rails are INA3221 channels that are not connected.
UNCONNECTED_RAIL = "NC"

_TS_TIMESTAMP = re.compile(r"^(\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}) ")
_TS_RAM = re.compile(r"^RAM (\d+)/(\d+)MB(?: \(lfb (\d+)x(\d+)([kM])B\))?(?= |$)")
_TS_SWAP = re.compile(r"(?:^| )SWAP (\d+)/(\d+)MB(?: \(cached (\d+)MB\))?(?= |$)")
# JetPack >= 4: CPU [12%@1479,off,...]; L4T 28: cpu [17%,13%,29%,5%]@408
_TS_CPU = re.compile(r"(?:^| )(?:CPU|cpu) \[([^\]]*)\](?:@(\d+))?(?= |$)")
_TS_CPU_OPEN = re.compile(r"(?:^| )(?:CPU|cpu) \[")
_TS_CPU_ENTRY = re.compile(r"^(?:(\d+)%(?:@(\d+))?|off)$")
# GR3D_FREQ 0% | 0%@76 | 84%@[713] | 0%@[305,305] | @[1000,1000]; L4T 28: GR3D 3%@76
_TS_GR3D = re.compile(r"(?:^| )GR3D(?:_FREQ)? (?:(\d+)%)?(?:@(?:(\d+)|\[([0-9,]*)\]))?(?= |$)")
_TS_EMC = re.compile(r"(?:^| )EMC(?:_FREQ)? (?:(\d+)%)?(?:@(\d+))?(?= |$)")
# name@42.5C, name@-256C, JetPack 7 name@52.968C/52.968C (current/max)
_TS_TEMP = re.compile(r"(?:^| )([A-Za-z][A-Za-z0-9_\-]*)@(-?\d+(?:\.\d+)?)C(?:/(-?\d+(?:\.\d+)?)C)?(?= |$)")
# VDD_IN 3140/3208 (JetPack 4, mW), VDD_IN 5832mW/5852mW (JetPack 5/6),
# VDD_GPU_SOC 5139mW/5139mW/5139mW (JetPack 7: current/average/max)
_TS_RAIL = re.compile(r"(?:^| )([A-Z][A-Z0-9_]*) (\d+)(?:mW)?/(\d+)(?:mW)?(?:/(\d+)(?:mW)?)?(?= |$)")
# Whatever tegrastats prints is printable ASCII; anything else is not a tegrastats line.
_TS_ALLOWED = re.compile(r"^[A-Za-z0-9_@%.,:/\[\]()\- ]*$")


def _float(text):
    return float(text) if text not in (None, "") else None


def _mhz_from_array(text):
    """``[305,305]`` (one clock per GPC) -> the highest clock, or None for ``[]``."""
    values = [float(v) for v in text.split(",") if v != ""]
    return max(values) if values else None


@_guarded
def parse_tegrastats_line(line):
    """Parse one line of ``tegrastats`` output into the normalised record."""
    if not isinstance(line, str):
        raise TelemetryError("a tegrastats line must be text, got %s" % type(line).__name__)
    text = line.strip()
    if not text:
        raise TelemetryError("empty tegrastats line")
    text = re.sub(r"\s+", " ", text)
    if not _TS_ALLOWED.match(text):
        raise TelemetryError("not a tegrastats line (unexpected characters): %r" % _excerpt(text))

    timestamp = None
    match = _TS_TIMESTAMP.match(text)
    if match:
        timestamp = match.group(1)
        text = text[match.end():]

    ram = _TS_RAM.match(text)
    if not ram:
        raise TelemetryError("not a tegrastats line (no leading 'RAM used/totalMB'): %r" % _excerpt(text))
    if text.count("[") != text.count("]") or text.count("(") != text.count(")"):
        raise TelemetryError("truncated tegrastats line (unbalanced brackets): %r" % _excerpt(text, 160))

    record = empty_record("tegrastats", timestamp)
    memory = record["memory"]
    memory["ram_used_mib"] = float(ram.group(1))
    memory["ram_total_mib"] = float(ram.group(2))
    if memory["ram_used_mib"] > memory["ram_total_mib"]:
        raise TelemetryError("RAM used %d MB exceeds total %d MB" % (memory["ram_used_mib"], memory["ram_total_mib"]))
    swap = _TS_SWAP.search(text)
    if swap:
        memory["swap_used_mib"] = float(swap.group(1))
        memory["swap_total_mib"] = float(swap.group(2))
        memory["swap_cached_mib"] = _float(swap.group(3))

    record["cpus"] = _tegrastats_cpus(text)

    gr3d = _TS_GR3D.search(text)
    if gr3d:
        gpu = _gpu(0, "tegra")
        gpu["utilization_percent"] = _float(gr3d.group(1))
        if gr3d.group(2) is not None:
            gpu["clock_mhz"] = float(gr3d.group(2))
        elif gr3d.group(3) is not None:
            gpu["clock_mhz"] = _mhz_from_array(gr3d.group(3))
        record["gpus"].append(gpu)

    emc = _TS_EMC.search(text)
    if emc and (emc.group(1) is not None or emc.group(2) is not None):
        record["emc"] = {"utilization_percent": _float(emc.group(1)), "clock_mhz": _float(emc.group(2))}

    for name, current, _maximum in _TS_TEMP.findall(text):
        value = float(current)
        if value <= ABSENT_SENSOR_C:
            continue
        record["temperatures_c"].setdefault(name, value)

    for name, current, average, _maximum in _TS_RAIL.findall(text):
        if name in ("RAM", "SWAP", "IRAM") or name == UNCONNECTED_RAIL:
            continue
        record["power_rails_mw"].setdefault(name, {"current": float(current), "average": float(average)})

    last = text.rsplit(" ", 1)[-1]
    if last.endswith(("@", "/", "[", ",", "%@")) or re.match(r"^[A-Za-z][A-Za-z0-9_\-]*@-?\d+(?:\.\d+)?$", last):
        raise TelemetryError("truncated tegrastats line (ends in %r)" % last)
    return record


def _tegrastats_cpus(text):
    match = _TS_CPU.search(text)
    if not match:
        if _TS_CPU_OPEN.search(text):
            raise TelemetryError("truncated tegrastats line (CPU list not closed)")
        return []
    shared_freq = _float(match.group(2))
    cpus = []
    entries = match.group(1).split(",")
    for index, entry in enumerate(entries):
        parsed = _TS_CPU_ENTRY.match(entry.strip())
        if not parsed:
            raise TelemetryError("CPU entry %d is %r, expected 'N%%@MHz', 'N%%' or 'off'" % (index, _excerpt(entry)))
        if entry.strip() == "off":
            cpus.append({"index": index, "online": False, "load_percent": None, "freq_mhz": None})
            continue
        load = float(parsed.group(1))
        if load > 100:
            raise TelemetryError("CPU %d load %d%% is over 100%%" % (index, load))
        freq = _float(parsed.group(2))
        cpus.append({"index": index, "online": True, "load_percent": load,
                     "freq_mhz": freq if freq is not None else shared_freq})
    return cpus


# ---------------------------------------------------------------------------------------------
# nvidia-smi --query-gpu=... --format=csv
# ---------------------------------------------------------------------------------------------

# NVML's nvmlClocksEventReason* bits (nvml.h; nvidia-ml-py's pynvml.py carries the same values).
CLOCK_EVENT_REASONS = (
    (0x0000000000000001, "gpu_idle"),
    (0x0000000000000002, "applications_clocks_setting"),
    (0x0000000000000004, "sw_power_cap"),
    (0x0000000000000008, "hw_slowdown"),
    (0x0000000000000010, "sync_boost"),
    (0x0000000000000020, "sw_thermal_slowdown"),
    (0x0000000000000040, "hw_thermal_slowdown"),
    (0x0000000000000080, "hw_power_brake_slowdown"),
    (0x0000000000000100, "display_clock_setting"),
)
# Reasons that pull the clock below what the GPU asked for because of power or heat: throttling.
# (gpu_idle, applications/display clock settings and sync boost are choices, not throttling.)
THROTTLE_REASONS = frozenset((
    "sw_power_cap", "hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown",
))

# What to query, in order of preference per wanted value: older drivers know only the
# clocks_throttle_reasons name, power.draw.instant/.average exist since the 530-series drivers.
_SMI_WANTED = (
    ("timestamp",), ("index",), ("name",), ("utilization.gpu",), ("utilization.memory",),
    ("temperature.gpu",), ("temperature.memory",), ("power.draw",), ("power.draw.instant",),
    ("power.draw.average",), ("enforced.power.limit", "power.limit"), ("clocks.sm",), ("clocks.max.sm",),
    ("clocks.mem",), ("memory.used",), ("memory.total",),
    ("clocks_event_reasons.active", "clocks_throttle_reasons.active"),
)
_SMI_HELP_NAMES = re.compile(r'^"([^"]+)"(?: or "([^"]+)")*\s*$')


@_guarded
def nvidia_smi_query_fields(help_text):
    """Pick the ``--query-gpu`` fields this nvidia-smi knows, from its ``--help-query-gpu`` text.

    Asking for a field the driver does not know makes nvidia-smi print an error instead of data,
    so the exporter asks only for names listed in the help. Raises TelemetryError when the text
    is not that help or lacks ``index``.
    """
    if not isinstance(help_text, str):
        raise TelemetryError("nvidia-smi --help-query-gpu output must be text")
    known = set()
    for line in help_text.splitlines():
        if _SMI_HELP_NAMES.match(line.strip()):
            known.update(re.findall(r'"([^"]+)"', line))
    if "index" not in known:
        raise TelemetryError("not nvidia-smi --help-query-gpu output (no \"index\" field): %r" % _excerpt(help_text))
    fields = []
    for choices in _SMI_WANTED:
        for name in choices:
            if name in known:
                fields.append(name)
                break
    return fields


# header name (as nvidia-smi prints it, units stripped) -> canonical query name
_SMI_ALIASES = {
    "clocks.current.sm": "clocks.sm",
    "clocks.current.memory": "clocks.mem",
    "clocks.current.graphics": "clocks.gr",
    "clocks.max.sm": "clocks.max.sm",
    "clocks.max.memory": "clocks.max.mem",
    "clocks_throttle_reasons.active": "clocks_event_reasons.active",
}
_SMI_MISSING = ("[N/A]", "N/A", "[Not Supported]", "Not Supported", "[Unknown Error]", "")
_SMI_NUMBER = re.compile(r"^(-?\d+(?:\.\d+)?)(?: ?(%|W|MHz|MiB|C))?$")


def decode_clock_event_reasons(mask):
    """NVML clock event reasons bitmask -> list of reason names (known bits only)."""
    if isinstance(mask, str):
        text = mask.strip()
        try:
            mask = int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            raise TelemetryError("clock event reasons %r is not a number" % _excerpt(text))
    if not isinstance(mask, int) or isinstance(mask, bool) or mask < 0:
        raise TelemetryError("clock event reasons must be a non-negative integer, got %r" % (mask,))
    return [name for bit, name in CLOCK_EVENT_REASONS if mask & bit]


def _smi_header_name(column):
    name = re.sub(r"\s*\[[^\]]*\]\s*$", "", column.strip())
    return _SMI_ALIASES.get(name, name)


def _smi_number(value, field):
    value = value.strip()
    if value in _SMI_MISSING:
        return None
    match = _SMI_NUMBER.match(value)
    if not match:
        raise TelemetryError("nvidia-smi field %s is %r, not a number" % (field, _excerpt(value)))
    return float(match.group(1))


@_guarded
def parse_nvidia_smi_csv(text):
    """Parse ``nvidia-smi --query-gpu=FIELDS --format=csv`` output (header + one row per GPU)."""
    if not isinstance(text, str):
        raise TelemetryError("nvidia-smi output must be text, got %s" % type(text).__name__)
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise TelemetryError("empty nvidia-smi output")
    rows = list(csv.reader(io.StringIO("\n".join(lines)), skipinitialspace=True))
    header = [_smi_header_name(column) for column in rows[0]]
    if "index" not in header:
        raise TelemetryError("not nvidia-smi --format=csv output with a header naming 'index': %r"
                             % _excerpt(lines[0]))
    if len(set(header)) != len(header):
        raise TelemetryError("nvidia-smi header repeats a field: %r" % _excerpt(lines[0]))
    if len(rows) < 2:
        raise TelemetryError("nvidia-smi output has a header but no GPU rows")

    timestamp = None
    record = empty_record("nvidia-smi")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise TelemetryError("nvidia-smi line %d has %d fields, the header %d (truncated?)"
                                 % (number, len(row), len(header)))
        values = dict(zip(header, (value.strip() for value in row)))
        index = _smi_number(values["index"], "index")
        if index is None or index != int(index) or index < 0:
            raise TelemetryError("nvidia-smi line %d: GPU index %r" % (number, values["index"]))
        index = int(index)
        if timestamp is None and values.get("timestamp"):
            timestamp = values["timestamp"]
        gpu = _gpu(index, values.get("name") or None)
        gpu["utilization_percent"] = _smi_number(values.get("utilization.gpu", ""), "utilization.gpu")
        gpu["clock_mhz"] = _smi_number(values.get("clocks.sm", values.get("clocks.gr", "")), "clocks.sm")
        gpu["clock_max_mhz"] = _smi_number(values.get("clocks.max.sm", ""), "clocks.max.sm")
        gpu["memory_used_mib"] = _smi_number(values.get("memory.used", ""), "memory.used")
        gpu["memory_total_mib"] = _smi_number(values.get("memory.total", ""), "memory.total")
        gpu["power_limit_w"] = _smi_number(
            values.get("enforced.power.limit", values.get("power.limit", "")), "power.limit")
        for field, sensor in (("temperature.gpu", "GPU%d" % index), ("temperature.memory", "GPU%d_MEM" % index)):
            value = _smi_number(values.get(field, ""), field)
            if value is not None:
                record["temperatures_c"][sensor] = value
        current = _smi_number(values.get("power.draw.instant", values.get("power.draw", "")), "power.draw")
        average = _smi_number(values.get("power.draw.average", values.get("power.draw", "")), "power.draw.average")
        if current is not None or average is not None:
            record["power_rails_mw"]["GPU%d" % index] = {
                "current": current * 1000.0 if current is not None else None,
                "average": average * 1000.0 if average is not None else None,
            }
        reasons = values.get("clocks_event_reasons.active", "")
        if reasons not in _SMI_MISSING:
            mask = reasons.strip()
            if not re.match(r"^0x[0-9a-fA-F]+$", mask):
                raise TelemetryError("nvidia-smi line %d: clock event reasons %r is not a hex mask"
                                     % (number, _excerpt(mask)))
            gpu["clock_event_mask"] = int(mask, 16)
            gpu["clock_event_reasons"] = decode_clock_event_reasons(gpu["clock_event_mask"])
            gpu["throttled"] = bool(THROTTLE_REASONS.intersection(gpu["clock_event_reasons"]))
        record["gpus"].append(gpu)
    indexes = [gpu["index"] for gpu in record["gpus"]]
    if len(set(indexes)) != len(indexes):
        raise TelemetryError("nvidia-smi output lists GPU index %r twice (two samples in one block?)" % indexes)
    record["timestamp"] = timestamp
    return record


def split_nvidia_smi_stream(lines):
    """Group a ``nvidia-smi ... --format=csv -l N`` stream into one CSV text per sample.

    The header comes once; each sample is one row per GPU in index order, so a row whose index is
    not above the previous row's starts the next sample. Yields CSV texts for
    :func:`parse_nvidia_smi_csv`.
    """
    header = None
    index_column = None
    block = []
    last_index = None
    for line in lines:
        if not line.strip():
            continue
        if header is None:
            header = line.rstrip("\n")
            names = [_smi_header_name(c) for c in next(csv.reader([header], skipinitialspace=True))]
            if "index" not in names:
                raise TelemetryError("nvidia-smi stream does not start with a header naming 'index'")
            index_column = names.index("index")
            continue
        fields = next(csv.reader([line], skipinitialspace=True))
        try:
            index = int(fields[index_column].strip())
        except (IndexError, ValueError):
            index = None
        if block and (index is None or last_index is None or index <= last_index):
            yield "\n".join([header] + block)
            block = []
        block.append(line.rstrip("\n"))
        last_index = index
    if block:
        yield "\n".join([header] + block)


# ---------------------------------------------------------------------------------------------
# Plain Linux: /proc/stat, /proc/meminfo, /sys/class/thermal, cpufreq
# ---------------------------------------------------------------------------------------------

_STAT_CPU = re.compile(r"^cpu(\d+)((?:\s+\d+){4,})\s*$")


@_guarded
def parse_proc_stat(text):
    """``/proc/stat`` -> {cpu index: (busy jiffies, total jiffies)} for the online CPUs."""
    if not isinstance(text, str):
        raise TelemetryError("/proc/stat must be text")
    counters = {}
    for line in text.splitlines():
        match = _STAT_CPU.match(line.strip())
        if not match:
            continue
        values = [int(v) for v in match.group(2).split()]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        # guest/guest_nice (fields 9 and 10) are already counted in user/nice
        total = sum(values[:8])
        counters[int(match.group(1))] = (total - idle, total)
    if not counters:
        raise TelemetryError("no 'cpuN ...' lines in /proc/stat text: %r" % _excerpt(text))
    return counters


@_guarded
def parse_meminfo(text):
    """``/proc/meminfo`` -> the record's memory part (MiB)."""
    if not isinstance(text, str):
        raise TelemetryError("/proc/meminfo must be text")
    fields = {}
    for line in text.splitlines():
        match = re.match(r"^(\w+(?:\(\w+\))?):\s+(\d+)(?: kB)?$", line.strip())
        if match:
            fields[match.group(1)] = int(match.group(2)) / 1024.0
    for required in ("MemTotal", "MemFree"):
        if required not in fields:
            raise TelemetryError("/proc/meminfo text lacks %s: %r" % (required, _excerpt(text)))
    available = fields.get("MemAvailable", fields["MemFree"] + fields.get("Buffers", 0) + fields.get("Cached", 0))
    memory = {
        "ram_used_mib": fields["MemTotal"] - available,
        "ram_total_mib": fields["MemTotal"],
        "swap_used_mib": None,
        "swap_total_mib": None,
        "swap_cached_mib": fields.get("SwapCached"),
    }
    if "SwapTotal" in fields and "SwapFree" in fields:
        memory["swap_total_mib"] = fields["SwapTotal"]
        memory["swap_used_mib"] = fields["SwapTotal"] - fields["SwapFree"]
    return memory


@_guarded
def parse_cpu_list(text):
    """A kernel CPU list (``/sys/devices/system/cpu/present``: ``0-3``, ``0,2-5``) -> sorted indexes."""
    cpus = set()
    for part in text.strip().split(","):
        if "-" in part:
            low, high = part.split("-", 1)
            low, high = int(low), int(high)
            if high < low or high - low > 4096:
                raise TelemetryError("CPU range %r is not valid" % part)
            cpus.update(range(low, high + 1))
        else:
            cpus.add(int(part))
    return sorted(cpus)


@_guarded
def parse_thermal_zone(zone_type, temp_text):
    """One ``/sys/class/thermal/thermal_zoneN`` (``type``, ``temp`` in millidegrees) -> (name, degC or None)."""
    name = zone_type.strip()
    if not name or not re.match(r"^[\w.\-]+$", name):
        raise TelemetryError("thermal zone type %r is not a sensor name" % _excerpt(zone_type))
    celsius = int(temp_text.strip()) / 1000.0
    return name, (None if celsius <= ABSENT_SENSOR_C else celsius)


@_guarded
def linux_record(stat_before, stat_after, meminfo, thermal=None, cpufreq_khz=None, present=None):
    """Build the record from two ``/proc/stat`` texts, ``/proc/meminfo`` and optional extras.

    ``thermal``: {zone type: temp text}; ``cpufreq_khz``: {cpu index: scaling_cur_freq text};
    ``present``: the ``/sys/devices/system/cpu/present`` text (CPUs present but absent from
    /proc/stat are offline).
    """
    before = parse_proc_stat(stat_before)
    after = parse_proc_stat(stat_after)
    record = empty_record("linux")
    record["memory"] = parse_meminfo(meminfo)
    indexes = set(after)
    if present:
        indexes.update(parse_cpu_list(present))
    for index in sorted(indexes):
        if index not in after:
            record["cpus"].append({"index": index, "online": False, "load_percent": None, "freq_mhz": None})
            continue
        load = None
        if index in before:
            busy = after[index][0] - before[index][0]
            total = after[index][1] - before[index][1]
            if busy < 0 or total < 0:
                raise TelemetryError("CPU %d counters went backwards between the two /proc/stat samples" % index)
            load = 100.0 * busy / total if total else 0.0
        freq = None
        if cpufreq_khz and index in cpufreq_khz:
            freq = int(str(cpufreq_khz[index]).strip()) / 1000.0
        record["cpus"].append({"index": index, "online": True, "load_percent": load, "freq_mhz": freq})
    for zone_type, temp_text in sorted((thermal or {}).items()):
        name, celsius = parse_thermal_zone(zone_type, temp_text)
        if celsius is not None:
            record["temperatures_c"].setdefault(name, celsius)
    return record


def _read(path):
    with open(path) as handle:
        return handle.read()


def read_linux_snapshot(root="/"):
    """Read what :func:`linux_record` needs (except the first /proc/stat) below ``root``.

    Returns ``{"stat", "meminfo", "thermal", "cpufreq_khz", "present"}``; missing optional
    files give empty values. Raises TelemetryError when /proc/stat or /proc/meminfo is unreadable.
    """
    try:
        stat = _read(os.path.join(root, "proc/stat"))
        meminfo = _read(os.path.join(root, "proc/meminfo"))
    except (IOError, OSError) as exc:
        raise TelemetryError("cannot read /proc below %s: %s" % (root, exc))
    thermal = {}
    thermal_dir = os.path.join(root, "sys/class/thermal")
    if os.path.isdir(thermal_dir):
        for entry in sorted(os.listdir(thermal_dir)):
            if not entry.startswith("thermal_zone"):
                continue
            try:
                thermal[_read(os.path.join(thermal_dir, entry, "type")).strip()] = _read(
                    os.path.join(thermal_dir, entry, "temp"))
            except (IOError, OSError):
                continue  # a zone whose sensor is off or unreadable (EINVAL/ENODATA on some Jetsons)
    cpufreq = {}
    cpu_dir = os.path.join(root, "sys/devices/system/cpu")
    present = None
    if os.path.isdir(cpu_dir):
        try:
            present = _read(os.path.join(cpu_dir, "present"))
        except (IOError, OSError):
            present = None
        for entry in os.listdir(cpu_dir):
            match = re.match(r"^cpu(\d+)$", entry)
            if not match:
                continue
            try:
                cpufreq[int(match.group(1))] = _read(os.path.join(cpu_dir, entry, "cpufreq/scaling_cur_freq"))
            except (IOError, OSError):
                continue
    return {"stat": stat, "meminfo": meminfo, "thermal": thermal, "cpufreq_khz": cpufreq, "present": present}


# ---------------------------------------------------------------------------------------------
# Traces: records sampled over a run (the benchmark's telemetry) and what they show
# ---------------------------------------------------------------------------------------------

# The thresholds of the alert rules (roles/monitoring/files/jc_alerts.yml: TemperatureHigh,
# GpuClockDropUnderLoad); tests/unit/roles/monitoring/test_alert_rules.py holds the two together.
TEMPERATURE_LIMIT_C = 85.0
BUSY_PERCENT = 80.0
CLOCK_DROP_RATIO = 0.8
# PMIC@100C (Nano, TX2, Xavier) is a fixed placeholder tegrastats prints, not a reading.
PLACEHOLDER_SENSORS = re.compile(r"(?i)^pmic")
# The rail that carries the whole module's input power, where tegrastats reports one.
INPUT_RAILS = ("POM_5V_IN", "VDD_IN", "VIN_SYS_5V0", "VIN")


def trace_sample(record, when, node):
    """One line of a trace file (JSON): when (epoch seconds, the node's clock), which node, the record."""
    return {"time": float(when), "node": node, "record": record}


def _is_number(value):
    """A JSON number (bool is an int to Python, not a number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@_guarded
def load_trace(text, source="trace"):
    """The samples of a trace file (one JSON object per line, see trace_sample), in time order."""
    import json

    if not isinstance(text, str):
        raise TelemetryError("%s must be text, got %s" % (source, type(text).__name__))
    samples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            sample = json.loads(line)
        except ValueError as exc:
            raise TelemetryError("%s line %d is not JSON (%s): %r" % (source, number, exc, _excerpt(line)))
        if (not isinstance(sample, dict) or not isinstance(sample.get("record"), dict)
                or not _is_number(sample.get("time"))):
            raise TelemetryError("%s line %d is not a telemetry sample {time, node, record}: %r"
                                 % (source, number, _excerpt(line)))
        record = sample["record"]
        for key, kind in (("gpus", list), ("temperatures_c", dict), ("power_rails_mw", dict)):
            if not isinstance(record.get(key), kind):
                raise TelemetryError("%s line %d: the record's %r is not a %s" % (source, number, key, kind.__name__))
        if (not all(isinstance(gpu, dict) for gpu in record["gpus"])
                or not all(_is_number(v) for v in record["temperatures_c"].values())
                or not all(isinstance(v, dict) for v in record["power_rails_mw"].values())):
            raise TelemetryError("%s line %d: the record's GPUs, temperatures or power rails are malformed: %r"
                                 % (source, number, _excerpt(line)))
        samples.append(sample)
    samples.sort(key=lambda sample: sample["time"])
    return samples


def _input_power_w(rails):
    for name in INPUT_RAILS:
        if name in rails and rails[name].get("current") is not None:
            return rails[name]["current"] / 1000.0
    values = [reading.get("current") for reading in rails.values() if reading.get("current") is not None]
    return sum(values) / 1000.0 if values else None


def _hottest(temperatures):
    values = [value for sensor, value in temperatures.items() if not PLACEHOLDER_SENSORS.match(sensor)]
    return max(values) if values else None


def _cpu_busy_percent(cpus):
    """The mean load of the online cores (a core tegrastats reports "off" is left out)."""
    loads = [cpu.get("load_percent") for cpu in cpus or [] if isinstance(cpu, dict) and cpu.get("online", True)]
    loads = [load for load in loads if _is_number(load)]
    return sum(loads) / len(loads) if loads else None


@_guarded
def trace_series(samples):
    """What the report plots for one node: lists of equal length, None where a sample lacks the value.
    GPU values are those of the busiest GPU of each sample; temperature the hottest sensor (PMIC
    placeholders left out); power the input rail, else the sum of the rails; CPU busy the mean of
    the online cores; RAM in use in MiB (every source reports these two, a node without a GPU too)."""
    series = {"time": [], "gpu_utilization_percent": [], "gpu_clock_mhz": [], "temperature_c": [], "power_w": [],
              "cpu_busy_percent": [], "ram_used_mib": []}
    for sample in samples:
        record = sample["record"]
        gpus = [gpu for gpu in record["gpus"] if gpu.get("utilization_percent") is not None] or record["gpus"]
        busiest = max(gpus, key=lambda gpu: gpu.get("utilization_percent") or 0.0) if gpus else {}
        series["time"].append(sample["time"])
        series["gpu_utilization_percent"].append(busiest.get("utilization_percent"))
        series["gpu_clock_mhz"].append(busiest.get("clock_mhz"))
        series["temperature_c"].append(_hottest(record["temperatures_c"]))
        series["power_w"].append(_input_power_w(record["power_rails_mw"]))
        series["cpu_busy_percent"].append(_cpu_busy_percent(record.get("cpus")))
        memory = record.get("memory")
        used = memory.get("ram_used_mib") if isinstance(memory, dict) else None
        series["ram_used_mib"].append(used if _is_number(used) else None)
    return series


def _finding(findings, key, node, kind, when, value, detail):
    found = findings.get(key)
    if found is None:
        findings[key] = {"node": node, "kind": kind, "first": when, "last": when, "samples": 1,
                         "worst": value, "detail": detail}
        return
    found["last"] = when
    found["samples"] += 1
    if kind == "temperature" and value > found["worst"] or kind == "clock_drop" and value < found["worst"]:
        found["worst"] = value
        found["detail"] = detail


@_guarded
def throttle_findings(samples, node=None, temperature_limit_c=TEMPERATURE_LIMIT_C,
                      busy_percent=BUSY_PERCENT, clock_drop_ratio=CLOCK_DROP_RATIO):
    """Signs of throttling in one node's samples, as the alert rules judge them, one entry per kind
    and GPU/sensor: {"node", "kind", "first", "last" (times), "samples", "worst", "detail"}.

    * ``throttle_reason``: the driver reports a power or thermal clock event reason (nvidia-smi);
    * ``clock_drop``: a GPU busier than busy_percent runs below clock_drop_ratio of its highest
      clock (the driver's maximum where it reports one, else the highest the trace shows), the
      only sign on a Jetson, whose tegrastats reports no reasons;
    * ``temperature``: a sensor over temperature_limit_c (PMIC placeholders left out).
    """
    highest = {}
    for sample in samples:
        for gpu in sample["record"]["gpus"]:
            if isinstance(gpu.get("clock_mhz"), (int, float)):
                highest[gpu.get("index")] = max(highest.get(gpu.get("index"), 0.0), gpu["clock_mhz"])
    findings = {}
    for sample in samples:
        when, record = sample["time"], sample["record"]
        name = node or sample.get("node") or "?"
        for gpu in record["gpus"]:
            index = gpu.get("index")
            if gpu.get("throttled"):
                reasons = [reason for reason in gpu.get("clock_event_reasons") or [] if reason in THROTTLE_REASONS]
                _finding(findings, ("throttle_reason", index), name, "throttle_reason", when, len(reasons),
                         "GPU %s: %s" % (index, ", ".join(reasons) or "throttled"))
            reference = gpu.get("clock_max_mhz") or highest.get(index)
            busy, clock = gpu.get("utilization_percent"), gpu.get("clock_mhz")
            if busy is not None and clock is not None and reference and busy >= busy_percent \
                    and clock < clock_drop_ratio * reference:
                _finding(findings, ("clock_drop", index), name, "clock_drop", when, clock,
                         "GPU %s at %g MHz of %g MHz while %g %% busy" % (index, clock, reference, busy))
        for sensor, value in record["temperatures_c"].items():
            if value > temperature_limit_c and not PLACEHOLDER_SENSORS.match(sensor):
                _finding(findings, ("temperature", sensor), name, "temperature", when, value,
                         "%s at %g °C (limit %g °C)" % (sensor, value, temperature_limit_c))
    return sorted(findings.values(), key=lambda found: (found["first"], found["kind"]))
