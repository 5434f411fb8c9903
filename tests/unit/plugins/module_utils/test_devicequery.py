"""Tests for the deviceQuery parser (plugins/module_utils/devicequery.py).

Every real output in tests/fixtures/devicequery/*.txt is parsed and compared with its sidecar
NAME.expected.json, as captured and after the transformations log collectors apply (CRLF,
indentation, timestamps, prefixes, container log files), which are generated here from the
real text rather than kept as hand-edited copies.
"""

import json
import random
import re
import string
from pathlib import Path

import pytest

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.devicequery import (
    DeviceQueryError,
    clean_lines,
    parse_devicequery,
    utf8_text,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "devicequery"
CAPTURES = sorted(FIXTURES.glob("*.txt"))
RESULT_KEYS = {
    "passed",
    "device_count",
    "driver_version",
    "runtime_version",
    "devices",
    "error_code",
    "error_message",
    "warnings",
}


def _read(path):
    return path.read_text(encoding="utf-8")


def _expected(path):
    return json.loads(path.with_name(path.stem + ".expected.json").read_text(encoding="utf-8"))


# --- transformations: how the same output looks once a log collector has handled it -----------


def as_crlf(text):
    return text.replace("\n", "\r\n")


def as_indented(text):
    return "".join("    " + line for line in text.splitlines(True))


def as_docker_logs_timestamped(text):
    # docker logs -t: RFC 3339 with nanoseconds in UTC, one space, the line
    return "".join(
        "2026-11-23T10:%02d:%02d.%09dZ %s" % (n // 60 % 60, n % 60, 123456789 + n, line)
        for n, line in enumerate(text.splitlines(True))
    )


def as_kubectl_timestamped(text):
    # kubectl logs --timestamps (containerd): RFC 3339 with a numeric offset
    return "".join(
        "2026-11-23T11:00:%02d.%06d+01:00 %s" % (n % 60, n, line)
        for n, line in enumerate(text.splitlines(True))
    )


def as_kubectl_prefixed_timestamped(text):
    # kubectl logs --prefix --timestamps
    return "".join(
        "[pod/devicequery-x7k2p/devicequery] 2026-11-23T11:00:%02d.000000000Z %s" % (n % 60, line)
        for n, line in enumerate(text.splitlines(True))
    )


def as_cri_log_file(text):
    # /var/log/pods/.../0.log as containerd writes it; long lines split into P(artial) + F(ull)
    out = []
    for n, line in enumerate(text.splitlines()):
        stamp = "2026-11-23T12:00:%02d.%09dZ" % (n % 60, n)
        if len(line) > 40:
            out.append("%s stdout P %s\n" % (stamp, line[:40]))
            out.append("%s stdout F %s\n" % (stamp, line[40:]))
        else:
            out.append("%s stdout F %s\n" % (stamp, line))
    return "".join(out)


def as_docker_json_log_file(text):
    # /var/lib/docker/containers/<id>/<id>-json.log (json-file log driver)
    return "".join(
        json.dumps({"log": line, "stream": "stdout", "time": "2026-11-23T12:00:00.000000000Z"}) + "\n"
        for line in text.splitlines(True)
    )


def as_ansi_coloured(text):
    return "".join("\x1b[32m" + line.rstrip("\n") + "\x1b[0m\n" for line in text.splitlines(True))


def as_bytes(text):
    return text.encode("utf-8")


TRANSFORMS = [
    as_crlf,
    as_indented,
    as_docker_logs_timestamped,
    as_kubectl_timestamped,
    as_kubectl_prefixed_timestamped,
    as_cri_log_file,
    as_docker_json_log_file,
    as_ansi_coloured,
    as_bytes,
]


# --- every real capture, as is and transformed -------------------------------------------------


def test_fixture_directory_holds_captures():
    assert CAPTURES, "no deviceQuery captures in %s" % FIXTURES


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_every_capture_has_an_expectation_file(capture):
    sidecar = capture.with_name(capture.stem + ".expected.json")
    assert sidecar.is_file(), "add %s with the result expected for %s" % (sidecar.name, capture.name)


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_capture_parses_to_its_expectation(capture):
    assert parse_devicequery(_read(capture)) == _expected(capture)


@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_logged_capture_parses_like_the_raw_one(capture, transform):
    assert parse_devicequery(transform(_read(capture))) == _expected(capture)


def test_transforms_really_change_the_text():
    # Guards the test above against transformations that silently do nothing.
    raw = _read(CAPTURES[0])
    for transform in TRANSFORMS:
        assert transform(raw) != raw, transform.__name__


# --- cleaning single lines ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Result = PASS", ["Result = PASS"]),
        ("Result = PASS\r\n", ["Result = PASS"]),
        ("   Result = PASS   ", ["Result = PASS"]),
        ("2024-05-01T12:34:56.123456789Z Result = PASS", ["Result = PASS"]),
        ("2024-05-01T12:34:56Z Result = PASS", ["Result = PASS"]),
        ("2024-05-01T12:34:56.123+02:00 Result = PASS", ["Result = PASS"]),
        ("2024-05-01 12:34:56,123 Result = PASS", ["Result = PASS"]),
        ("2024-05-01T12:34:56.1Z   CUDA Driver Version", ["CUDA Driver Version"]),
        ("[pod/dq-abc/dq] Result = PASS", ["Result = PASS"]),
        ("2024-05-01T12:34:56.1Z stderr F Result = FAIL", ["Result = FAIL"]),
        ("2024-05-01T12:34:56.1Z stdout P Result = \n2024-05-01T12:34:56.1Z stdout F PASS", ["Result = PASS"]),
        ('{"log":"Result = PASS\\n","stream":"stdout","time":"2024-05-01T12:34:56Z"}', ["Result = PASS"]),
        ("\x1b[1;31mResult = FAIL\x1b[0m", ["Result = FAIL"]),
        (b"Result = PASS\xff", ["Result = PASS\ufffd"]),
        ("a\rb", ["a", "b"]),
    ],
    ids=[
        "plain",
        "crlf",
        "indented",
        "docker-logs-t",
        "rfc3339-no-fraction",
        "rfc3339-offset",
        "space-separated-comma-fraction",
        "timestamp-then-indent",
        "kubectl-prefix",
        "cri-full-line",
        "cri-partial-joined",
        "docker-json-file",
        "ansi-colour",
        "undecodable-bytes",
        "bare-cr",
    ],
)
def test_clean_lines(raw, expected):
    assert clean_lines(raw) == expected


def test_clean_lines_rejects_non_text():
    with pytest.raises(DeviceQueryError, match="must be text, got int"):
        clean_lines(42)


# --- the device lines, one format at a time ----------------------------------------------------

DEVICE_HEAD = 'Detected 1 CUDA Capable device(s)\n\nDevice 0: "GPU"\n'
DEVICE_TAIL = (
    "\ndeviceQuery, CUDA Driver = CUDART, CUDA Driver Version = 12.2, "
    "CUDA Runtime Version = 12.2, NumDevs = 1\nResult = PASS\n"
)


def _device_from(line):
    result = parse_devicequery(DEVICE_HEAD + line + "\n" + DEVICE_TAIL)
    return result["devices"][0], result["warnings"]


@pytest.mark.parametrize(
    "line, key, value",
    [
        # CUDA <= 10.x prints %2d: Jetson Nano (collabnix/dockerlabs), Xavier NX (Seeed wiki)
        ("  ( 1) Multiprocessors, (128) CUDA Cores/MP:     128 CUDA Cores", "multiprocessors", 1),
        ("  ( 6) Multiprocessors, ( 64) CUDA Cores/MP:     384 CUDA Cores", "cuda_cores", 384),
        # CUDA >= 11 prints %03d: AGX Xavier CUDA 11.8 (OE4T/meta-tegra#1282),
        # AGX Orin CUDA 12.9 (OE4T/meta-tegra#2088), H200 CUDA 13.0
        ("  (008) Multiprocessors, (064) CUDA Cores/MP:    512 CUDA Cores", "multiprocessors", 8),
        ("  (008) Multiprocessors, (128) CUDA Cores/MP:    1024 CUDA Cores", "cuda_cores", 1024),
        ("  (132) Multiprocessors, (128) CUDA Cores/MP:    16896 CUDA Cores", "cuda_cores", 16896),
        # CUDA 4.x used " x " between the two counts
        ("  ( 2) Multiprocessors x (48) CUDA Cores/MP:     96 CUDA Cores", "multiprocessors", 2),
        ("  GPU Max Clock rate:                            1185 MHz (1.18 GHz)", "max_clock_mhz", 1185),
        # CUDA 7.0 printed "GPU Clock rate"
        ("  GPU Clock rate:                                1110 MHz (1.11 GHz)", "max_clock_mhz", 1110),
        ("  GPU Max Clock rate:                            921.6 MHz (0.92 GHz)", "max_clock_mhz", 922),
        ("  Total amount of global memory:                 54793 MBytes (57454317568 bytes)", "memory_mb", 54793),
        ("  Total amount of global memory:                 4294967296 bytes", "memory_mb", 4096),
        ("  CUDA Capability Major/Minor version number:    8.7", "capability", "8.7"),
        ("  CUDA Capability Major/Minor version number:    10.0", "capability", "10.0"),
        ("  Integrated GPU sharing Host Memory:            Yes", "integrated", True),
        ("  Integrated GPU sharing Host Memory:            No", "integrated", False),
    ],
)
def test_device_line(line, key, value):
    device, warnings = _device_from(line)
    assert device[key] == value
    assert warnings == []


def test_device_without_a_line_reports_none_for_it():
    device = _device_from("  CUDA Capability Major/Minor version number:    8.7")[0]
    assert device["memory_mb"] is None and device["integrated"] is None


def test_inconsistent_core_count_is_warned():
    warnings = _device_from("  (008) Multiprocessors, (128) CUDA Cores/MP:    1000 CUDA Cores")[1]
    assert warnings == ["device 0: 008 multiprocessors x 128 cores/MP is not the 1000 CUDA cores printed"]


def test_versions_come_from_the_summary_when_the_device_block_lacks_them():
    result = parse_devicequery(DEVICE_HEAD + DEVICE_TAIL)
    assert (result["driver_version"], result["runtime_version"]) == ("12.2", "12.2")


def test_driver_and_runtime_versions_may_differ():
    text = (
        'Detected 1 CUDA Capable device(s)\nDevice 0: "NVIDIA Tegra X1"\n'
        "  CUDA Driver Version / Runtime Version          10.2 / 10.0\nResult = PASS\n"
    )
    result = parse_devicequery(text)
    assert (result["driver_version"], result["runtime_version"]) == ("10.2", "10.0")


# --- failures deviceQuery reports ----------------------------------------------------------------

BANNER = "./deviceQuery Starting...\n\n CUDA Device Query (Runtime API) version (CUDART static linking)\n\n"


def test_no_device_error_is_reported_with_code_and_message():
    result = parse_devicequery(
        BANNER + "cudaGetDeviceCount returned 100\n-> no CUDA-capable device is detected\nResult = FAIL\n"
    )
    assert (result["passed"], result["error_code"], result["error_message"]) == (
        False,
        100,
        "cudaGetDeviceCount returned 100 -> no CUDA-capable device is detected",
    )


def test_failed_device_count_means_zero_devices():
    result = parse_devicequery(
        BANNER + "cudaGetDeviceCount returned 38\n-> no CUDA-capable device is detected\nResult = FAIL\n"
    )
    assert result["device_count"] == 0 and result["devices"] == []


def test_error_without_arrow_line_keeps_the_call_and_code():
    result = parse_devicequery(BANNER + "cudaGetDeviceCount returned 3\nResult = FAIL\n")
    assert result["error_message"] == "cudaGetDeviceCount returned 3"


def test_check_cuda_errors_abort_is_a_failure():
    # helper_cuda.h checkCudaErrors() prints this to stderr and exits: no Result line follows.
    result = parse_devicequery(
        BANNER
        + "CUDA error at ../../Common/helper_cuda.h:791 code=100(cudaErrorNoDevice) "
        + '"cudaGetDeviceCount(&device_count)"\n'
    )
    assert (result["passed"], result["error_code"]) == (False, 100)
    assert result["error_message"].startswith("CUDA error at ../../Common/helper_cuda.h:791")


def test_zero_devices_with_pass_reports_zero_devices():
    result = parse_devicequery(
        BANNER
        + "There are no available device(s) that support CUDA\n\n"
        + "deviceQuery, CUDA Driver = CUDART, CUDA Driver Version = 10.2, CUDA Runtime Version = 10.2, "
        + "NumDevs = 0\nResult = PASS\n"
    )
    assert (result["passed"], result["device_count"]) == (True, 0)


def test_result_fail_without_reason_says_so():
    result = parse_devicequery(BANNER + "Result = FAIL\n")
    assert result["error_message"] == "deviceQuery reported 'Result = FAIL' without printing why"


def test_truncated_output_is_a_failure_naming_the_missing_result_line():
    text = _read(FIXTURES / "h200_x1_pass.txt")
    result = parse_devicequery(text[: text.index("Memory Clock rate")])
    assert result["passed"] is False
    assert "without its 'Result = PASS' or 'Result = FAIL' line" in result["error_message"]


def test_fewer_device_blocks_than_detected_is_warned():
    text = _read(FIXTURES / "geforce_gtx1060_nvs310_x2_cuda7_5_pass.txt")
    cut = text[: text.index('Device 1: "NVS 310"')] + "Result = PASS\n"
    assert parse_devicequery(cut)["warnings"] == [
        "deviceQuery detected 2 device(s) but the output describes 1: it may be truncated"
    ]


def test_summary_disagreeing_with_detected_count_is_warned():
    text = _read(FIXTURES / "h200_x1_pass.txt").replace("NumDevs = 1", "NumDevs = 2")
    assert "but its summary says NumDevs = 2" in parse_devicequery(text)["warnings"][0]


def test_only_the_last_of_several_runs_counts():
    # kubectl logs of a restarted container: a failed run, then a passing one
    failed = _read(FIXTURES / "jetson_orin_cuda12_8_fail35.txt")
    passed = _read(FIXTURES / "h200_x1_pass.txt")
    result = parse_devicequery(failed + passed)
    assert result["passed"] is True
    assert result["warnings"] == ["the output holds 2 deviceQuery runs; only the last one was parsed"]


def test_noise_around_the_output_is_ignored():
    # docker prints its own lines to the same stream, e.g. when pulling an image first
    text = (
        "Unable to find image 'dq:latest' locally\nlatest: Pulling from library/dq\n"
        + _read(FIXTURES / "jetson_nano_cuda10_2_docker_pass.txt")
        + "some trailing line\n"
    )
    assert parse_devicequery(text) == _expected(FIXTURES / "jetson_nano_cuda10_2_docker_pass.txt")


# --- input that is not deviceQuery output ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n\n",
        "   \r\n\t\r\n",
        "hello world",
        "Result = PASS\n",
        "Result = FAIL",
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
        "docker: Error response from daemon: unknown or invalid runtime name: nvidia.",
        "Error from server (BadRequest): container \"dq\" in pod \"dq\" is waiting to start",
        "/bin/sh: 1: deviceQuery: not found",
        '{"log": 42}',
        '{"not": "a log line"}',
        "Device 0 NVIDIA H200",
        "Detected one CUDA Capable device(s)",
        "\x00\x01\x02\x03",
        "\ufeff\u2028\u2029",
        "<html><body>502 Bad Gateway</body></html>",
    ],
    ids=[
        "empty",
        "blank-lines",
        "whitespace",
        "prose",
        "bare-result-pass",
        "bare-result-fail",
        "nvidia-smi-error",
        "docker-runtime-error",
        "kubectl-waiting",
        "sh-not-found",
        "json-log-not-text",
        "json-not-a-log",
        "device-without-quotes",
        "detected-without-number",
        "control-bytes",
        "unicode-separators",
        "html",
    ],
)
def test_garbage_raises_a_clear_error(text):
    with pytest.raises(DeviceQueryError, match="deviceQuery"):
        parse_devicequery(text)


def test_garbage_error_quotes_the_start_of_the_text():
    with pytest.raises(DeviceQueryError, match=r"the text starts with 'docker: Error response"):
        parse_devicequery("\n\ndocker: Error response from daemon: oh no\n")


def test_bare_result_line_error_explains_what_is_missing():
    with pytest.raises(DeviceQueryError, match="none of deviceQuery's own lines"):
        parse_devicequery("Result = PASS")


# --- fuzzing: anything in, a result dict or DeviceQueryError out, never another exception -------


def _check_shape(result):
    assert set(result) == RESULT_KEYS
    assert isinstance(result["passed"], bool)
    assert isinstance(result["device_count"], int)
    assert isinstance(result["devices"], list)
    assert isinstance(result["warnings"], list)
    for device in result["devices"]:
        assert isinstance(device["index"], int)
        assert isinstance(device["name"], str)


def _parse_or_error(text):
    try:
        result = parse_devicequery(text)
    except DeviceQueryError as exc:
        assert str(exc)
        return None
    _check_shape(result)
    return result


ALPHABET = string.printable + "\u00e9\u2028\ufeff\x00\x1b()/\"=:->"


@pytest.mark.parametrize("seed", range(20))
def test_fuzz_random_text(seed):
    rng = random.Random(seed)
    for dummy in range(50):
        _parse_or_error("".join(rng.choice(ALPHABET) for dummy in range(rng.randint(0, 400))))


@pytest.mark.parametrize("seed", range(20))
def test_fuzz_random_bytes(seed):
    rng = random.Random(1000 + seed)
    for dummy in range(50):
        _parse_or_error(bytes(rng.randint(0, 255) for dummy in range(rng.randint(0, 400))))


@pytest.mark.parametrize("seed", range(20))
def test_fuzz_mangled_captures(seed):
    # Real output with lines dropped, duplicated, shuffled, cut or corrupted.
    rng = random.Random(2000 + seed)
    for capture in CAPTURES:
        lines = _read(capture).splitlines(True)
        for dummy in range(10):
            mangled = list(lines)
            for dummy in range(rng.randint(1, 8)):
                action = rng.choice(["drop", "dup", "swap", "cut", "corrupt", "digits"])
                if not mangled:
                    break
                i = rng.randrange(len(mangled))
                if action == "drop":
                    del mangled[i]
                elif action == "dup":
                    mangled.insert(i, mangled[i])
                elif action == "swap":
                    j = rng.randrange(len(mangled))
                    mangled[i], mangled[j] = mangled[j], mangled[i]
                elif action == "cut":
                    mangled[i] = mangled[i][: rng.randrange(len(mangled[i]) + 1)]
                elif action == "corrupt":
                    mangled[i] = "".join(
                        rng.choice(ALPHABET) if rng.random() < 0.2 else c for c in mangled[i]
                    )
                else:
                    mangled[i] = re.sub(r"\d+", "9" * 5000, mangled[i])
            _parse_or_error("".join(mangled))


@pytest.mark.parametrize(
    "value, text",
    [
        (b"GPU 41\xb0C", "GPU 41\ufffdC"),
        ("GPU 41\udcb0C", "GPU 41\ufffdC"),  # bytes decoded with surrogateescape
        ("lone \ud800 surrogate", "lone ? surrogate"),
        ("NVIDIA H200 \u00b0", "NVIDIA H200 \u00b0"),
    ],
    ids=["latin1-bytes", "surrogateescape-str", "lone-surrogate", "clean-str"],
)
def test_utf8_text_always_encodes_as_utf8(value, text):
    assert utf8_text(value) == text
    utf8_text(value).encode("utf-8")
