"""Fuzzing plugins/module_utils/devicequery.py with Hypothesis: the real captures of
tests/fixtures/devicequery mutated line by line and byte by byte, and arbitrary text. Whatever
comes in, parse_devicequery returns a well-formed result whose strings ansible-core accepts, or
raises DeviceQueryError with a message; never another exception."""

from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from fuzz_strategies import mutated_bytes, mutated_text
from module_harness import assert_controller_accepts

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.devicequery import (
    DeviceQueryError,
    parse_devicequery,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "devicequery"
CAPTURES = {path.name: path.read_bytes() for path in sorted(FIXTURES.glob("*.txt"))}
DEVICE_TYPES = {"index": int, "name": str, "capability": str, "memory_mb": int, "multiprocessors": int,
                "cuda_cores": int, "max_clock_mhz": int, "integrated": bool}


def parse_or_clear_error(text):
    try:
        result = parse_devicequery(text)
    except DeviceQueryError as exc:
        assert str(exc).strip()
        return None
    assert isinstance(result["passed"], bool)
    assert isinstance(result["device_count"], int) and result["device_count"] >= 0
    assert result["passed"] or result["error_message"]
    for device in result["devices"]:
        assert set(device) == set(DEVICE_TYPES)
        for key, kind in DEVICE_TYPES.items():
            assert device[key] is None or isinstance(device[key], kind), (key, device)
    assert_controller_accepts(result)
    return result


@given(st.sampled_from(sorted(CAPTURES)).flatmap(
    lambda name: mutated_text(CAPTURES[name].decode("utf-8"))))
def test_mutated_capture_lines(text):
    parse_or_clear_error(text)


@given(st.sampled_from(sorted(CAPTURES)).flatmap(lambda name: mutated_bytes(CAPTURES[name])))
def test_mutated_capture_bytes(data):
    parse_or_clear_error(data)


@given(st.sampled_from(sorted(CAPTURES)).flatmap(lambda name: mutated_bytes(CAPTURES[name])))
@example(CAPTURES["h200_x1_pass.txt"].replace(b'"NVIDIA H200"', b'"NVIDIA H200\xff"'))
def test_mutated_bytes_decoded_with_surrogateescape(data):
    # What a command runner that keeps undecodable bytes hands over.
    parse_or_clear_error(data.decode("utf-8", "surrogateescape"))


@given(st.one_of(st.text(), st.binary()))
def test_arbitrary_input(value):
    parse_or_clear_error(value)


@given(st.sampled_from(sorted(CAPTURES)), st.binary(min_size=1, max_size=3))
def test_a_stray_byte_between_lines_keeps_the_verdict(name, noise):
    clean = parse_devicequery(CAPTURES[name])
    lines = CAPTURES[name].split(b"\n")
    noisy = b"\n".join(lines[:1] + [b"\xff" + noise] + lines[1:])
    result = parse_devicequery(noisy)
    assert (result["passed"], result["devices"], result["error_code"]) == (
        clean["passed"], clean["devices"], clean["error_code"])
