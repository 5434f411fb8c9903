# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Parse the text that NVIDIA's CUDA sample ``deviceQuery`` prints.

Pure functions, no AnsibleModule: ``plugins/modules/devicequery.py`` maps its parameters onto
these, and the unit tests in ``tests/unit/plugins/module_utils/test_devicequery.py`` call them
directly with the captured outputs in ``tests/fixtures/devicequery/``.

The formats handled are those of deviceQuery from CUDA 7.x through 13.x (Jetson and discrete
GPUs), as printed on a terminal or as captured by ``docker logs`` / ``kubectl logs``: CRLF line
ends, indentation, ANSI colour codes, a leading RFC 3339 timestamp per line (``docker logs -t``,
``kubectl logs --timestamps``), a ``[pod/NAME/CONTAINER]`` prefix (``kubectl logs --prefix``),
and the on-disk container log formats (CRI ``/var/log/pods/...`` lines and Docker's json-file
lines).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re


class DeviceQueryError(Exception):
    """The text is not deviceQuery output (or nothing of it can be used)."""


# ---------------------------------------------------------------------------------------------
# Line clean-up: what log collectors add in front of, or around, each line deviceQuery printed.
# ---------------------------------------------------------------------------------------------

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# RFC 3339 / ISO 8601 date-time as docker (-t) and kubectl (--timestamps) print it, e.g.
# 2024-05-01T12:34:56.123456789Z or 2024-05-01T12:34:56.123+02:00, followed by one space.
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})? ?"
)
# CRI log lines (containerd, k3s: /var/log/pods/...): "<time> stdout F <text>".
# "P" marks a partial line that continues in the next entry of the same stream.
_CRI_STREAM_TAG = re.compile(r"^(stdout|stderr) ([FP]) ?")
# kubectl logs --prefix
_KUBECTL_PREFIX = re.compile(r"^\[pod/[^\]\s]+\] ")


def _docker_json_log_line(line):
    """Return the text of a Docker json-file log line, or None when the line is not one."""
    if not line.startswith('{"'):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("log"), str):
        return None
    return entry["log"]


def utf8_text(text):
    """Text that encodes as UTF-8: bytes decoded with undecodable bytes replaced by U+FFFD, and
    a str that still carries surrogates (bytes decoded with surrogateescape) repaired the same
    way. ansible-core refuses a module result holding a surrogate; anything else is returned as is.
    """
    if isinstance(text, bytes):
        return text.decode("utf-8", "replace")
    if isinstance(text, str):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            try:
                return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            except UnicodeEncodeError:
                return text.encode("utf-8", "replace").decode("utf-8")
    return text


def clean_lines(text):
    """Split captured deviceQuery output into lines without log-collector decoration.

    Accepts ``str`` or ``bytes`` (see ``utf8_text``: bytes that are not UTF-8 become U+FFFD). Returns the
    list of lines, each stripped of surrounding whitespace, in order. Blank lines are kept (as
    empty strings) because they carry no meaning but keep line numbers recognisable.
    """
    text = utf8_text(text)
    if not isinstance(text, str):
        raise DeviceQueryError(
            "deviceQuery output must be text, got %s" % type(text).__name__
        )
    lines = []
    partial = {}
    for raw in text.splitlines():
        line = _ANSI_ESCAPE.sub("", raw).replace("\x00", "")
        logged = _docker_json_log_line(line.strip())
        if logged is not None:
            lines.extend(part.strip() for part in (logged.splitlines() or [""]))
            continue
        # kubectl logs --prefix --timestamps prints "[pod/NAME/CONTAINER] TIMESTAMP text".
        line = _KUBECTL_PREFIX.sub("", line.lstrip())
        stamped = _TIMESTAMP.match(line)
        if stamped:
            line = line[stamped.end():]
            tag = _CRI_STREAM_TAG.match(line)
            if tag:
                stream, kind = tag.group(1), tag.group(2)
                line = partial.pop(stream, "") + line[tag.end():]
                if kind == "P":
                    partial[stream] = line
                    continue
        lines.append(line.strip())
    lines.extend(value.strip() for value in partial.values())
    return lines


# ---------------------------------------------------------------------------------------------
# The lines deviceQuery prints (cuda-samples Samples/1_Utilities/deviceQuery/deviceQuery.cpp).
# ---------------------------------------------------------------------------------------------

# Numbers are bounded so that no line, however long, can make int() refuse it.
_N = r"\d{1,12}"

_BANNER = re.compile(r"^CUDA Device Query \(Runtime API\)")
_DETECTED = re.compile(r"^(?:Detected|Found) (" + _N + r") CUDA Capable device\(s\)$")
_NO_DEVICES = re.compile(r"^There (?:are|is) no (?:available )?device")
_DEVICE = re.compile(r"^Device (" + _N + r'): "(.*)"$')
_VERSIONS = re.compile(
    r"^CUDA Driver Version / Runtime Version\s+(\d{1,4}\.\d{1,4})\s*/\s*(\d{1,4}\.\d{1,4})$"
)
_CAPABILITY = re.compile(r"^CUDA Capability Major/Minor version number:\s+(\d{1,4})\.(\d{1,4})$")
_MEMORY_MB = re.compile(
    r"^Total amount of global memory:\s+(" + _N + r") MBytes(?: \((\d{1,20}) bytes\))?$"
)
_MEMORY_BYTES = re.compile(r"^Total amount of global memory:\s+(\d{1,20}) bytes$")
# "( 1) Multiprocessors, (128) CUDA Cores/MP:     128 CUDA Cores"  (CUDA <= 10.x, %2d)
# "(132) Multiprocessors, (128) CUDA Cores/MP:    16896 CUDA Cores" (CUDA >= 11, %03d)
# "( 0) Multiprocessors x (32) CUDA Cores/MP:     0 CUDA Cores"     (CUDA 4.x)
_CORES = re.compile(
    r"^\(\s*(" + _N + r")\) Multiprocessors\s*[,x]\s*\(\s*(" + _N + r")\) CUDA Cores/MP:\s+("
    + _N + r") CUDA Cores$"
)
# "GPU Max Clock rate: 1980 MHz (1.98 GHz)"; CUDA 7.0 printed "GPU Clock rate:".
_CLOCK = re.compile(r"^GPU (?:Max )?Clock rate:\s+(\d{1,9}(?:\.\d{1,9})?) MHz")
_INTEGRATED = re.compile(r"^Integrated GPU sharing Host Memory:\s+(Yes|No)$")
_SUMMARY = re.compile(
    r"^deviceQuery, CUDA Driver = CUDART, CUDA Driver Version = (\d{1,4}\.\d{1,4}), "
    r"CUDA Runtime Version = (\d{1,4}\.\d{1,4}), NumDevs = (" + _N + r")"
)
_RESULT = re.compile(r"^Result = (PASS|FAIL)$")
# "cudaGetDeviceCount returned 100" followed by "-> no CUDA-capable device is detected"
_RETURNED = re.compile(r"^(cuda\w+) returned (-?" + _N + r")$")
_ARROW = re.compile(r"^-> (.+)$")
# helper_cuda.h checkCudaErrors(): CUDA error at FILE:LINE code=N(cudaErrorX) "call"
_CHECK_ERROR = re.compile(r"^CUDA error at (\S+) code=(-?" + _N + r')\((\w+)\) "(.*)"$')

_DEVICE_KEYS = (
    "index",
    "name",
    "capability",
    "memory_mb",
    "multiprocessors",
    "cuda_cores",
    "max_clock_mhz",
    "integrated",
)


def _new_device(index, name):
    device = dict((key, None) for key in _DEVICE_KEYS)
    device["index"] = index
    device["name"] = name
    return device


def _last_run(lines):
    """Keep the last deviceQuery run when a log holds several (a restarted container)."""
    starts = [number for number, line in enumerate(lines) if _BANNER.match(line)]
    if len(starts) > 1:
        return lines[starts[-1]:], len(starts)
    return lines, len(starts)


def _snippet(lines, limit=120):
    for line in lines:
        if line:
            return line if len(line) <= limit else line[:limit] + "..."
    return ""


def parse_devicequery(text):
    """Parse deviceQuery output into a plain dict.

    Returns a dict with:
      ``passed`` (bool): the output ends with ``Result = PASS``.
      ``device_count`` (int): devices deviceQuery detected; 0 when it could not count them.
      ``driver_version``, ``runtime_version`` (str "major.minor" or None).
      ``devices`` (list of dicts with the keys in ``_DEVICE_KEYS``; a value is None when the
      output lacks its line).
      ``error_code`` (int or None), ``error_message`` (str or None): why it did not pass.
      ``warnings`` (list of str): oddities that did not stop the parse.

    Raises ``DeviceQueryError`` when the text is not deviceQuery output at all.
    """
    lines, runs = _last_run(clean_lines(text))
    warnings = []
    if runs > 1:
        warnings.append(
            "the output holds %d deviceQuery runs; only the last one was parsed" % runs
        )

    recognised = runs > 0
    detected = None
    summary = None
    result = None
    error_code = None
    error_message = None
    driver_version = runtime_version = None
    devices = []
    current = None

    for number, line in enumerate(lines):
        if not line:
            continue
        match = _DEVICE.match(line)
        if match:
            recognised = True
            current = _new_device(int(match.group(1)), match.group(2))
            devices.append(current)
            continue
        match = _DETECTED.match(line)
        if match:
            recognised = True
            detected = int(match.group(1))
            continue
        if _NO_DEVICES.match(line):
            recognised = True
            detected = 0
            continue
        match = _RESULT.match(line)
        if match:
            result = match.group(1)
            current = None
            continue
        match = _SUMMARY.match(line)
        if match:
            recognised = True
            summary = (match.group(1), match.group(2), int(match.group(3)))
            current = None
            continue
        match = _RETURNED.match(line)
        if match:
            recognised = True
            error_code = int(match.group(2))
            error_message = "%s returned %s" % (match.group(1), match.group(2))
            following = lines[number + 1] if number + 1 < len(lines) else ""
            arrow = _ARROW.match(following)
            if arrow:
                error_message += " -> " + arrow.group(1).strip()
            continue
        match = _CHECK_ERROR.match(line)
        if match:
            recognised = True
            error_code = int(match.group(2))
            error_message = line
            continue
        if current is not None:
            _parse_device_line(line, current, warnings)
            match = _VERSIONS.match(line)
            if match and driver_version is None:
                driver_version, runtime_version = match.group(1), match.group(2)

    if not recognised:
        if result is not None:
            raise DeviceQueryError(
                "found 'Result = %s' but none of deviceQuery's own lines (its banner, "
                "'Detected N CUDA Capable device(s)', 'Device N: \"NAME\"'): this is not "
                "deviceQuery output" % result
            )
        raise DeviceQueryError(
            "no deviceQuery output found: expected the lines NVIDIA's deviceQuery prints "
            "('CUDA Device Query (Runtime API) ...', 'Detected N CUDA Capable device(s)', "
            "'Result = PASS'); the text starts with %r" % _snippet(lines)
        )

    if summary is not None:
        if driver_version is None:
            driver_version, runtime_version = summary[0], summary[1]
        if detected is None:
            detected = summary[2]
        elif detected != summary[2]:
            warnings.append(
                "deviceQuery detected %d device(s) but its summary says NumDevs = %d"
                % (detected, summary[2])
            )
    if detected is None:
        detected = len(devices)
    elif devices and len(devices) != detected:
        warnings.append(
            "deviceQuery detected %d device(s) but the output describes %d: it may be truncated"
            % (detected, len(devices))
        )

    passed = result == "PASS" and error_code is None
    if result == "PASS" and error_code is not None:
        warnings.append("deviceQuery printed an error and 'Result = PASS'; reporting it as failed")
    if error_message is None and not passed:
        if result == "FAIL":
            error_message = "deviceQuery reported 'Result = FAIL' without printing why"
        else:
            error_message = (
                "deviceQuery output ends without its 'Result = PASS' or 'Result = FAIL' line: "
                "the output is truncated or deviceQuery was interrupted"
            )

    return {
        "passed": passed,
        "device_count": detected,
        "driver_version": driver_version,
        "runtime_version": runtime_version,
        "devices": devices,
        "error_code": error_code,
        "error_message": error_message,
        "warnings": warnings,
    }


def _parse_device_line(line, device, warnings):
    match = _CAPABILITY.match(line)
    if match:
        device["capability"] = "%s.%s" % (int(match.group(1)), int(match.group(2)))
        return
    match = _MEMORY_MB.match(line)
    if match:
        device["memory_mb"] = int(match.group(1))
        return
    match = _MEMORY_BYTES.match(line)
    if match:
        device["memory_mb"] = int(round(int(match.group(1)) / 1048576.0))
        return
    match = _CORES.match(line)
    if match:
        device["multiprocessors"] = int(match.group(1))
        device["cuda_cores"] = int(match.group(3))
        if int(match.group(1)) * int(match.group(2)) != device["cuda_cores"]:
            warnings.append(
                "device %d: %s multiprocessors x %s cores/MP is not the %s CUDA cores printed"
                % (device["index"], match.group(1), match.group(2), match.group(3))
            )
        return
    match = _CLOCK.match(line)
    if match:
        device["max_clock_mhz"] = int(round(float(match.group(1))))
        return
    match = _INTEGRATED.match(line)
    if match:
        device["integrated"] = match.group(1) == "Yes"
