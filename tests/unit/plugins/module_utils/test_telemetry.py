"""Tests for the telemetry parsers (plugins/module_utils/telemetry.py).

Every line in tests/fixtures/telemetry/tegrastats/*.txt is a real tegrastats line quoted in a
public issue or repository (each file names its source); tests/fixtures/telemetry/nvidia_smi/
holds a real capture from an H200 idle and under a bf16 matmul loop (sampled at 1 Hz);
tests/fixtures/telemetry/linux/ holds /proc files of this test host, one second apart.
Hypothesis feeds garbage, truncations and mutations of those real lines: the only exception
that may come out is TelemetryError.
"""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.telemetry import (
    CLOCK_EVENT_REASONS,
    TelemetryError,
    decode_clock_event_reasons,
    linux_record,
    nvidia_smi_query_fields,
    parse_cpu_list,
    parse_meminfo,
    parse_nvidia_smi_csv,
    parse_proc_stat,
    parse_tegrastats_line,
    parse_thermal_zone,
    read_linux_snapshot,
    split_nvidia_smi_stream,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "telemetry"
TEGRASTATS = FIXTURES / "tegrastats"
SMI = FIXTURES / "nvidia_smi"
LINUX = FIXTURES / "linux"

RECORD_KEYS = {"source", "timestamp", "gpus", "temperatures_c", "power_rails_mw", "memory", "cpus", "emc"}
GPU_KEYS = {"index", "name", "utilization_percent", "clock_mhz", "clock_max_mhz", "memory_used_mib",
            "memory_total_mib", "power_limit_w", "clock_event_mask", "clock_event_reasons", "throttled"}


def tegrastats_lines(name=None):
    files = [TEGRASTATS / name] if name else sorted(TEGRASTATS.glob("*.txt"))
    lines = []
    for path in files:
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                lines.append(line)
    return lines


ALL_LINES = tegrastats_lines()


def first(name):
    return parse_tegrastats_line(tegrastats_lines(name)[0])


# ---------------------------------------------------------------------------------------------
# fixtures are what they claim
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(TEGRASTATS.glob("*.txt")), ids=lambda p: p.name)
def test_every_tegrastats_fixture_names_its_source(path):
    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    assert any("Source:" in line for line in header)


@pytest.mark.parametrize("line", ALL_LINES, ids=lambda l: l[:40])
def test_every_real_tegrastats_line_gives_the_full_record_shape(line):
    record = parse_tegrastats_line(line)
    assert set(record) == RECORD_KEYS
    assert record["source"] == "tegrastats"
    assert record["memory"]["ram_total_mib"] > record["memory"]["ram_used_mib"] > 0
    assert len(record["gpus"]) == 1 and set(record["gpus"][0]) == GPU_KEYS
    assert record["cpus"] and [cpu["index"] for cpu in record["cpus"]] == list(range(len(record["cpus"])))
    json.dumps(record)  # plain data, JSON-serialisable


# ---------------------------------------------------------------------------------------------
# tegrastats, generation by generation
# ---------------------------------------------------------------------------------------------

def test_nano_jetpack4_rails_without_unit_are_current_and_average_milliwatts():
    record = first("nano_jp4_l4t32_sudo.txt")
    assert record["power_rails_mw"] == {
        "POM_5V_IN": {"current": 2830.0, "average": 1483.0},
        "POM_5V_GPU": {"current": 41.0, "average": 31.0},
        "POM_5V_CPU": {"current": 943.0, "average": 206.0},
    }
    assert record["gpus"][0]["utilization_percent"] == 0.0
    assert record["gpus"][0]["clock_mhz"] == 76.0
    assert record["emc"] == {"utilization_percent": 2.0, "clock_mhz": 1600.0}
    assert record["memory"]["swap_total_mib"] is None  # this board printed no SWAP field


def test_nano_under_load_reports_gpu_at_full_clock():
    records = [parse_tegrastats_line(line) for line in tegrastats_lines("nano_jp4_detectnet_load.txt")]
    assert [r["gpus"][0]["utilization_percent"] for r in records] == [28.0, 86.0, 99.0, 99.0]
    assert [r["gpus"][0]["clock_mhz"] for r in records] == [76.0, 921.0, 921.0, 921.0]
    assert records[3]["temperatures_c"]["GPU"] == 43.0
    assert records[3]["cpus"][1] == {"index": 1, "online": True, "load_percent": 36.0, "freq_mhz": 1479.0}


def test_cores_switched_off_are_offline_without_load_or_clock():
    record = first("tx2_jp46_cores_off.txt")
    assert [cpu["online"] for cpu in record["cpus"]] == [True, False, False, True, True, True]
    assert record["cpus"][1] == {"index": 1, "online": False, "load_percent": None, "freq_mhz": None}
    assert record["cpus"][0]["load_percent"] == 3.0 and record["cpus"][0]["freq_mhz"] == 345.0


def test_gr3d_without_clock_and_no_rails_when_not_run_as_root():
    record = first("tx2_jp46_cores_off.txt")
    assert record["gpus"][0]["utilization_percent"] == 0.0
    assert record["gpus"][0]["clock_mhz"] is None
    assert record["power_rails_mw"] == {}
    assert record["memory"]["swap_total_mib"] == 1913.0


def test_tx2_vdd_sys_gpu_and_vdd_in_rails():
    record = first("tx2_vdd_sys_gpu.txt")
    assert record["power_rails_mw"]["VDD_SYS_GPU"] == {"current": 153.0, "average": 158.0}
    assert record["power_rails_mw"]["VDD_IN"] == {"current": 3140.0, "average": 3208.0}
    assert record["temperatures_c"]["Tdiode"] == 41.25


def test_xavier_rail_named_gpu_does_not_clash_with_the_gpu_temperature():
    record = first("agx_xavier_jp42.txt")
    assert record["temperatures_c"]["GPU"] == 30.5
    assert record["power_rails_mw"]["GPU"] == {"current": 463.0, "average": 463.0}
    assert record["power_rails_mw"]["SYS5V"] == {"current": 3306.0, "average": 3306.0}
    assert len(record["cpus"]) == 8


def test_orin_leading_timestamp_absent_sensors_and_unconnected_rails():
    record = first("agx_orin_jp5_absent_sensors.txt")
    assert record["timestamp"] == "04-11-2025 10:36:27"
    for absent in ("CV0", "CV1", "CV2", "GPU"):
        assert absent not in record["temperatures_c"]
    assert record["temperatures_c"]["tj"] == 44.343
    assert "NC" not in record["power_rails_mw"]
    assert record["power_rails_mw"]["VDD_GPU_SOC"] == {"current": 2340.0, "average": 2340.0}
    assert record["gpus"][0]["utilization_percent"] == 0.0 and record["gpus"][0]["clock_mhz"] == 0.0
    assert len(record["cpus"]) == 12


def test_orin_jetpack6_gpc_clock_array_and_milliwatt_rails():
    record = first("orin_jp6_loaded.txt")
    assert record["gpus"][0]["utilization_percent"] == 84.0
    assert record["gpus"][0]["clock_mhz"] == 713.0
    assert record["power_rails_mw"]["VDD_IN"] == {"current": 17946.0, "average": 15710.0}
    assert record["temperatures_c"]["gpu"] == 63.5
    assert record["cpus"][5]["freq_mhz"] == 247.0
    assert record["memory"]["swap_cached_mib"] == 202.0


def test_orin_jetpack7_current_max_temperatures_and_three_value_rails():
    record = first("agx_orin_jp7.txt")
    assert record["gpus"][0]["utilization_percent"] == 12.0
    assert record["gpus"][0]["clock_mhz"] == 1300.0
    assert record["temperatures_c"]["cpu"] == 52.968
    assert record["power_rails_mw"]["VDD_CPU_CV"] == {"current": 3268.0, "average": 3268.0}


def test_l4t28_shared_cpu_clock_and_gr3d_without_freq_suffix():
    record = first("tx1_l4t28.txt")
    assert [cpu["load_percent"] for cpu in record["cpus"]] == [17.0, 13.0, 29.0, 5.0]
    assert {cpu["freq_mhz"] for cpu in record["cpus"]} == {408.0}
    assert record["gpus"][0]["utilization_percent"] == 3.0 and record["gpus"][0]["clock_mhz"] == 76.0
    assert record["emc"] == {"utilization_percent": 1.0, "clock_mhz": 408.0}


def test_crlf_and_surrounding_whitespace_are_ignored():
    line = ALL_LINES[0]
    assert parse_tegrastats_line("  " + line + "\r\n") == parse_tegrastats_line(line)


# ---------------------------------------------------------------------------------------------
# tegrastats: bad input
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   \n", "empty"),
    ("hello world", "no leading 'RAM"),
    ("Tue Nov 30 12:00:00 UTC 2026", "no leading 'RAM"),
    ("RAM 1446/3957MB (lfb 458x4MB) CPU [17%@1428,11%@14", "unbalanced"),
    ("RAM 1446/3957MB (lfb 458x4", "unbalanced"),
    ("RAM 1446/3957MB (lfb 458x4MB) CPU [17%@1428,11%@1428] GPU@", "truncated"),
    ("RAM 1446/3957MB (lfb 458x4MB) CPU [17%@1428] GPU@21", "truncated"),
    ("RAM 1446/3957MB (lfb 458x4MB) CPU [17%@1428] POM_5V_IN 2830/", "truncated"),
    ("RAM 1446/3957MB CPU [17%@1428,banana]", "CPU entry 1"),
    ("RAM 1446/3957MB CPU [170%@1428]", "over 100"),
    ("RAM 5000/3957MB CPU [17%@1428]", "exceeds total"),
    ("RAM 1446/3957MB CPU [17%@1428] \x00\x01", "unexpected characters"),
    ("RAM 1446/3957MB CPU [17%@1428] GPU@21°C", "unexpected characters"),
])
def test_garbage_and_truncated_lines_raise_a_clear_error(text, message):
    with pytest.raises(TelemetryError, match=message):
        parse_tegrastats_line(text)


def test_non_text_input_is_refused():
    with pytest.raises(TelemetryError, match="must be text"):
        parse_tegrastats_line(b"RAM 1/2MB")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_fuzz_any_text_gives_a_record_or_telemetry_error(text):
    try:
        record = parse_tegrastats_line(text)
    except TelemetryError:
        return
    assert set(record) == RECORD_KEYS


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_LINES), st.data())
def test_fuzz_real_lines_cut_anywhere_never_leak_another_exception(line, data):
    cut = data.draw(st.integers(min_value=0, max_value=len(line)))
    try:
        parse_tegrastats_line(line[:cut])
    except TelemetryError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_LINES), st.data())
def test_fuzz_real_lines_with_one_character_replaced(line, data):
    position = data.draw(st.integers(min_value=0, max_value=len(line) - 1))
    char = data.draw(st.sampled_from(list("0123456789%@/[],()C- xXmW.") + [data.draw(st.characters())]))
    mutated = line[:position] + char + line[position + 1:]
    try:
        record = parse_tegrastats_line(mutated)
    except TelemetryError:
        return
    for cpu in record["cpus"]:
        assert cpu["load_percent"] is None or 0 <= cpu["load_percent"] <= 100


# ---------------------------------------------------------------------------------------------
# nvidia-smi
# ---------------------------------------------------------------------------------------------

def smi_samples():
    with open(SMI / "h200_matmul_load_1hz.csv") as handle:
        return [parse_nvidia_smi_csv(block) for block in split_nvidia_smi_stream(handle)]


def test_nvidia_smi_idle_capture():
    record = parse_nvidia_smi_csv((SMI / "h200_idle.csv").read_text())
    assert set(record) == RECORD_KEYS and record["source"] == "nvidia-smi"
    assert record["timestamp"] == "2026/11/30 09:16:37.725"
    gpu = record["gpus"][0]
    assert set(gpu) == GPU_KEYS
    assert (gpu["index"], gpu["name"]) == (0, "NVIDIA H200")
    assert (gpu["utilization_percent"], gpu["clock_mhz"], gpu["clock_max_mhz"]) == (0.0, 345.0, 1980.0)
    assert (gpu["memory_used_mib"], gpu["memory_total_mib"], gpu["power_limit_w"]) == (0.0, 143771.0, 700.0)
    assert gpu["clock_event_reasons"] == ["gpu_idle"] and gpu["throttled"] is False
    assert record["temperatures_c"] == {"GPU0": 37.0, "GPU0_MEM": 39.0}
    # power.draw.instant is the current draw, power.draw.average the average (W -> mW)
    assert record["power_rails_mw"]["GPU0"] == {"current": 82670.0, "average": 92000.0}


def test_nvidia_smi_stream_splits_into_one_sample_per_second():
    samples = smi_samples()
    assert len(samples) == 24
    assert all(len(sample["gpus"]) == 1 for sample in samples)


def test_nvidia_smi_under_matmul_load_shows_the_power_cap_pulling_the_clock_down():
    loaded = [s["gpus"][0] for s in smi_samples() if s["gpus"][0]["utilization_percent"] == 100.0]
    assert len(loaded) == 14
    for gpu in loaded:
        assert gpu["clock_event_reasons"] == ["sw_power_cap"]
        assert gpu["throttled"] is True
        assert gpu["clock_mhz"] < gpu["clock_max_mhz"]  # 1440-1470 MHz against 1980 MHz


def test_nvidia_smi_after_load_clocks_recover_and_no_reason_is_active():
    last = smi_samples()[-1]["gpus"][0]
    assert last["clock_event_mask"] == 0 and last["clock_event_reasons"] == []
    assert last["throttled"] is False and last["clock_mhz"] == 1980.0


def test_nvidia_smi_perf_report_agrees_with_the_csv_capture():
    perf = (SMI / "h200_perf_load.txt").read_text()
    assert "SW Power Cap                                   : Active" in perf


@pytest.mark.parametrize("mask, names", [
    (0, []),
    (0x1, ["gpu_idle"]),
    (0x4, ["sw_power_cap"]),
    ("0x0000000000000004", ["sw_power_cap"]),
    (0x8 | 0x40, ["hw_slowdown", "hw_thermal_slowdown"]),
    (0x20 | 0x80, ["sw_thermal_slowdown", "hw_power_brake_slowdown"]),
    (0x100 | 0x10 | 0x2, ["applications_clocks_setting", "sync_boost", "display_clock_setting"]),
    (0x1000, []),  # a bit NVML may add later: not guessed
])
def test_clock_event_reasons_decode_with_nvml_bits(mask, names):
    assert decode_clock_event_reasons(mask) == names


def test_every_nvml_bit_is_a_distinct_power_of_two():
    bits = [bit for bit, _name in CLOCK_EVENT_REASONS]
    assert len(set(bits)) == len(bits) and all(bit & (bit - 1) == 0 for bit in bits)


@pytest.mark.parametrize("mask", [-1, "zz", "0xZZ", None, 1.5, True])
def test_bad_clock_event_masks_raise(mask):
    with pytest.raises(TelemetryError):
        decode_clock_event_reasons(mask)


def test_nvidia_smi_older_drivers_throttle_reason_header_is_understood():
    text = (SMI / "h200_idle.csv").read_text().replace("clocks_event_reasons.active", "clocks_throttle_reasons.active")
    assert parse_nvidia_smi_csv(text)["gpus"][0]["clock_event_reasons"] == ["gpu_idle"]


def test_nvidia_smi_two_gpus_in_one_sample():
    header, row = (SMI / "h200_idle.csv").read_text().splitlines()
    second = row.replace(", 0, NVIDIA H200", ", 1, NVIDIA H200", 1)
    record = parse_nvidia_smi_csv("\n".join([header, row, second]))
    assert [gpu["index"] for gpu in record["gpus"]] == [0, 1]
    assert set(record["temperatures_c"]) == {"GPU0", "GPU0_MEM", "GPU1", "GPU1_MEM"}


@pytest.mark.parametrize("mutate, message", [
    (lambda h, r: "", "empty"),
    (lambda h, r: h, "no GPU rows"),
    (lambda h, r: r, "header naming 'index'"),
    (lambda h, r: h + "\n" + r.rsplit(",", 3)[0], "truncated"),
    (lambda h, r: h + "\n" + r.replace("0 %", "lots %", 1), "not a number"),
    (lambda h, r: h + "\n" + r.replace("0x0000000000000001", "Active", 1), "not a hex mask"),
    (lambda h, r: h + "\n" + r + "\n" + r, "twice"),
    (lambda h, r: "Failed to initialize NVML: Driver/library version mismatch", "header naming 'index'"),
])
def test_nvidia_smi_bad_output_raises_a_clear_error(mutate, message):
    header, row = (SMI / "h200_idle.csv").read_text().splitlines()
    with pytest.raises(TelemetryError, match=message):
        parse_nvidia_smi_csv(mutate(header, row))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_nvidia_smi_cut_or_garbage_never_leaks_another_exception(data):
    text = (SMI / "h200_matmul_load_1hz.csv").read_text()
    choice = data.draw(st.integers(min_value=0, max_value=2))
    if choice == 0:
        text = text[:data.draw(st.integers(min_value=0, max_value=len(text)))]
    elif choice == 1:
        position = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
        text = text[:position] + data.draw(st.text(max_size=3)) + text[position + 1:]
    else:
        text = data.draw(st.text(max_size=300))
    try:
        for block in split_nvidia_smi_stream(text.splitlines(True)):
            parse_nvidia_smi_csv(block)
    except TelemetryError:
        pass


def test_query_fields_are_chosen_from_the_drivers_own_help():
    fields = nvidia_smi_query_fields((SMI / "h200_help_query_gpu.txt").read_text())
    assert fields[:3] == ["timestamp", "index", "name"]
    assert "clocks_event_reasons.active" in fields and "power.draw.average" in fields
    assert "enforced.power.limit" in fields and "power.limit" not in fields


def test_query_fields_fall_back_to_older_driver_names():
    help_text = (SMI / "h200_help_query_gpu.txt").read_text()
    old = "\n".join(line for line in help_text.splitlines()
                    if not line.startswith(('"clocks_event_reasons.active"', '"power.draw.average"',
                                            '"power.draw.instant"', '"enforced.power.limit"')))
    old += '\n"clocks_throttle_reasons.active"\nBitmask.\n"power.limit"\nLimit.\n'
    fields = nvidia_smi_query_fields(old)
    assert "clocks_throttle_reasons.active" in fields and "power.limit" in fields
    assert "power.draw.average" not in fields


@pytest.mark.parametrize("text", ["", "nvidia-smi: command not found", b"\"index\""])
def test_query_fields_refuse_text_that_is_not_the_help(text):
    with pytest.raises(TelemetryError):
        nvidia_smi_query_fields(text)


# ---------------------------------------------------------------------------------------------
# plain Linux
# ---------------------------------------------------------------------------------------------

def linux_inputs():
    return ((LINUX / "host_a/proc/stat").read_text(), (LINUX / "host_b/proc/stat").read_text(),
            (LINUX / "host_b/proc/meminfo").read_text())


def test_proc_stat_gives_busy_and_total_jiffies_per_cpu():
    counters = parse_proc_stat((LINUX / "host_a/proc/stat").read_text())
    # cpu0 20246 1918 4350 15913 228 0 71 205 0 0: idle+iowait = 16141, total of 8 fields = 42931
    assert counters == {0: (42931 - 16141, 42931), 1: (42839 - 13441, 42839)}


def test_linux_record_load_between_two_samples_and_memory():
    before, after, meminfo = linux_inputs()
    record = linux_record(before, after, meminfo)
    assert set(record) == RECORD_KEYS and record["source"] == "linux" and record["gpus"] == []
    # the test host was saturated by other work: no idle jiffies between the two samples
    assert [cpu["load_percent"] for cpu in record["cpus"]] == [100.0, 100.0]
    assert record["memory"]["ram_total_mib"] == pytest.approx(24684092 / 1024.0)
    assert record["memory"]["swap_total_mib"] == 0.0


def test_linux_record_cpus_present_but_missing_from_proc_stat_are_offline():
    before, after, meminfo = linux_inputs()
    record = linux_record(before, after, meminfo, present="0-3")
    assert [(cpu["index"], cpu["online"]) for cpu in record["cpus"]] == [(0, True), (1, True), (2, False), (3, False)]


def test_linux_record_thermal_zones_and_cpufreq():
    before, after, meminfo = linux_inputs()
    zone = LINUX / "thermal_zones/thermal_zone2"
    record = linux_record(before, after, meminfo, thermal={(zone / "type").read_text(): (zone / "temp").read_text()},
                          cpufreq_khz={0: "1479000\n"})
    assert record["temperatures_c"] == {"SEN1": 34.0}
    assert record["cpus"][0]["freq_mhz"] == 1479.0 and record["cpus"][1]["freq_mhz"] is None


def test_read_linux_snapshot_reads_below_a_root(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/stat").write_text((LINUX / "host_a/proc/stat").read_text())
    (tmp_path / "proc/meminfo").write_text((LINUX / "host_a/proc/meminfo").read_text())
    zone = tmp_path / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "type").write_text("CPU-therm\n")
    (zone / "temp").write_text("44500\n")
    broken = tmp_path / "sys/class/thermal/thermal_zone1"
    broken.mkdir()
    (broken / "type").write_text("GPU-therm\n")  # no temp: skipped, as a zone that fails to read
    cpu0 = tmp_path / "sys/devices/system/cpu/cpu0/cpufreq"
    cpu0.mkdir(parents=True)
    (cpu0 / "scaling_cur_freq").write_text("1479000\n")
    (tmp_path / "sys/devices/system/cpu/present").write_text("0-3\n")
    snapshot = read_linux_snapshot(str(tmp_path))
    assert snapshot["thermal"] == {"CPU-therm": "44500\n"}
    assert snapshot["cpufreq_khz"] == {0: "1479000\n"}
    record = linux_record(snapshot["stat"], (LINUX / "host_b/proc/stat").read_text(), snapshot["meminfo"],
                          snapshot["thermal"], snapshot["cpufreq_khz"], snapshot["present"])
    assert record["temperatures_c"] == {"CPU-therm": 44.5}
    assert len(record["cpus"]) == 4


def test_read_linux_snapshot_without_proc_raises(tmp_path):
    with pytest.raises(TelemetryError, match="cannot read /proc"):
        read_linux_snapshot(str(tmp_path))


@pytest.mark.parametrize("call, message", [
    (lambda: parse_proc_stat("intr 1 2 3"), "no 'cpuN"),
    (lambda: parse_meminfo("MemTotal: 10 kB"), "lacks MemFree"),
    (lambda: parse_cpu_list("3-1"), "not valid"),
    (lambda: parse_cpu_list("a-b"), "cannot parse"),
    (lambda: parse_thermal_zone("CPU-therm", "hot"), "cannot parse"),
    (lambda: parse_thermal_zone("", "1000"), "not a sensor name"),
    (lambda: linux_record(linux_inputs()[1], linux_inputs()[0], linux_inputs()[2]), "backwards"),
])
def test_linux_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(TelemetryError, match=message):
        call()


def test_absent_thermal_sensor_is_left_out():
    assert parse_thermal_zone("GPU-therm", "-256000") == ("GPU-therm", None)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200))
def test_fuzz_linux_inputs_never_leak_another_exception(stat, meminfo):
    try:
        linux_record(stat, stat, meminfo, present=stat[:10])
    except TelemetryError:
        pass
