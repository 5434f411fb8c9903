"""Traces of telemetry over a run (plugins/module_utils/telemetry.py: trace_sample, load_trace,
trace_series, throttle_findings).

Traces come from tests/helpers/telemetry_traces.py: a real H200 trace at its power cap, and a
Xavier trace BUILT from two real lines (cool, then throttled at GPU@89C); see there.
"""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.telemetry import (
    TEMPERATURE_LIMIT_C,
    TelemetryError,
    linux_record,
    load_trace,
    parse_tegrastats_line,
    throttle_findings,
    trace_sample,
    trace_series,
)

from telemetry_traces import FIXTURES, T0, as_file, h200_trace, tegrastats_lines, xavier_trace

def test_a_trace_file_round_trips_in_time_order():
    samples = xavier_trace(cool=2, hot=1)
    assert load_trace(as_file(reversed(samples))) == samples


def test_the_h200_at_its_power_cap_is_flagged_with_the_reason_and_the_clock_drop():
    findings = throttle_findings(h200_trace())
    kinds = {found["kind"]: found for found in findings}
    assert set(kinds) == {"throttle_reason", "clock_drop"}
    assert kinds["throttle_reason"]["node"] == "worker1"
    assert "sw_power_cap" in kinds["throttle_reason"]["detail"]
    assert "of 1980 MHz" in kinds["clock_drop"]["detail"] and kinds["clock_drop"]["worst"] < 0.8 * 1980


def test_the_idle_h200_is_not_flagged():
    assert throttle_findings(h200_trace(files=("h200_idle.csv",))) == []


def test_the_hot_xavier_is_flagged_over_the_limit_from_its_first_hot_second():
    findings = throttle_findings(xavier_trace(node="nano-hot", cool=3, hot=4))
    assert {found["kind"] for found in findings} == {"temperature"}
    hottest = max(findings, key=lambda found: found["worst"])
    assert hottest["node"] == "nano-hot" and hottest["worst"] == 89.5 and hottest["first"] == T0 + 3
    assert hottest["samples"] == 4
    assert all("PMIC" not in found["detail"] for found in findings)  # PMIC@100C is a placeholder


def test_the_cool_xavier_is_not_flagged_although_pmic_prints_100c():
    assert throttle_findings(xavier_trace(cool=5, hot=0)) == []


def test_the_limit_is_the_alert_rules():
    rules = (Path(__file__).resolve().parents[4] / "roles" / "monitoring" / "files" / "jc_alerts.yml").read_text()
    assert "jc_temperature_celsius{sensor!~\"(?i)pmic.*\"} > %g" % TEMPERATURE_LIMIT_C in rules


def test_series_take_the_input_rail_or_the_sum_and_the_hottest_real_sensor():
    nano = [trace_sample(parse_tegrastats_line(line), T0, "n")
            for line in tegrastats_lines("tegrastats/nano_jp4_detectnet_load.txt")[:1]]
    series = trace_series(nano)
    record = nano[0]["record"]
    assert series["power_w"] == [record["power_rails_mw"]["POM_5V_IN"]["current"] / 1000.0]
    xavier = trace_series(xavier_trace(cool=0, hot=1))
    assert xavier["temperature_c"] == [89.5]
    assert xavier["power_w"] == [(7078 + 2996 + 10164 + 0 + 2085 + 3686) / 1000.0]
    assert xavier["gpu_utilization_percent"] == [99.0] and xavier["gpu_clock_mhz"] == [None]


def test_series_take_the_mean_of_the_online_cores_and_the_ram_in_use():
    # TX2 on JetPack 4.6 with its two Denver cores off: "CPU [3%@345,off,off,0%@345,1%@345,1%@345]".
    tx2 = [trace_sample(parse_tegrastats_line(line), T0, "n")
           for line in tegrastats_lines("tegrastats/tx2_jp46_cores_off.txt")[:1]]
    series = trace_series(tx2)
    assert series["cpu_busy_percent"] == [(3 + 0 + 1 + 1) / 4.0]
    assert series["ram_used_mib"] == [1689]
    # A node without a GPU (the lab's containers, a CPU node): CPU and RAM are all it reports.
    before, after, meminfo = [(FIXTURES / "linux" / host / "proc" / name).read_text()
                              for host, name in (("host_a", "stat"), ("host_b", "stat"), ("host_b", "meminfo"))]
    series = trace_series([trace_sample(linux_record(before, after, meminfo), T0, "cpu-node")])
    assert series["cpu_busy_percent"] == [100.0] and series["ram_used_mib"][0] > 0
    assert series["gpu_utilization_percent"] == [None] and series["power_w"] == [None]


@pytest.mark.parametrize("text, message", [
    ("not json\n", "line 1 is not JSON"),
    ('{"time": 1, "node": "a"}\n', "not a telemetry sample"),
    ('{"time": "x", "record": {}}\n', "not a telemetry sample"),
    ('{"time": 1, "record": {"gpus": {}, "temperatures_c": {}, "power_rails_mw": {}}}\n', "'gpus' is not a list"),
    ('{"time": 1, "record": {"gpus": [1], "temperatures_c": {}, "power_rails_mw": {}}}\n', "malformed"),
    ('{"time": 1, "record": {"gpus": [], "temperatures_c": {"GPU": "hot"}, "power_rails_mw": {}}}\n', "malformed"),
])
def test_bad_trace_lines_are_named(text, message):
    with pytest.raises(TelemetryError, match=message):
        load_trace(text)


@given(st.text(max_size=300))
def test_fuzzed_trace_text_gives_samples_or_a_telemetry_error(text):
    try:
        load_trace(text)
    except TelemetryError:
        pass


@given(st.integers(min_value=0, max_value=2000), st.sampled_from(["", "x", "}", "\"", "null", "[]"]))
def test_cut_or_mutated_real_trace_lines_give_a_sample_or_a_telemetry_error_and_analyse(cut, junk):
    text = as_file(h200_trace(files=("h200_idle.csv",))[:1])
    text = text[:cut] + junk + text[cut:]
    try:
        samples = load_trace(text)
    except TelemetryError:
        return
    try:
        throttle_findings(samples)
        trace_series(samples)
    except TelemetryError:
        pass
