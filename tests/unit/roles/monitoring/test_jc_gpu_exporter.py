"""Behaviour of roles/monitoring/files/jc_gpu_exporter.py.

record_metrics() is checked on records parsed from the real fixtures; the whole program is then
started as a process against the fake tegrastats / nvidia-smi (which replay the real captures) and
the plain Linux source, and its /metrics page is scraped over HTTP and parsed with
prometheus_client's own parser.
"""

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.telemetry import (
    parse_nvidia_smi_csv,
    parse_tegrastats_line,
    split_nvidia_smi_stream,
)

ROOT = Path(__file__).resolve().parents[4]
SCRIPT = ROOT / "roles" / "monitoring" / "files" / "jc_gpu_exporter.py"
FIXTURES = ROOT / "tests" / "fixtures" / "telemetry"
_spec = importlib.util.spec_from_file_location("jc_gpu_exporter", SCRIPT)
exporter = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(exporter)


def samples(families):
    """{(metric name, frozenset(labels)): value} from metric families."""
    out = {}
    for family in families:
        for sample in family.samples:
            out[(sample[0], frozenset(sample[1].items()))] = sample[2]
    return out


def fixture_line(name, index=0):
    lines = [l for l in (FIXTURES / "tegrastats" / name).read_text().splitlines() if l and not l.startswith("#")]
    return lines[index]


def test_default_port_is_not_node_exporters():
    assert exporter.DEFAULT_PORT == 9401
    assert exporter.parse_args([]).port != 9100


def test_nano_record_becomes_metrics_in_base_units():
    record = parse_tegrastats_line(fixture_line("nano_jp4_detectnet_load.txt", 2))
    got = samples(exporter.record_metrics(record))
    gpu = frozenset({("gpu", "0"), ("name", "tegra")})
    assert got[("jc_gpu_utilization_ratio", gpu)] == pytest.approx(0.99)
    assert got[("jc_gpu_clock_hertz", gpu)] == 921e6
    assert got[("jc_temperature_celsius", frozenset({("sensor", "GPU")}))] == 43.0
    assert got[("jc_power_rail_watts", frozenset({("rail", "POM_5V_IN")}))] == pytest.approx(4.523)
    assert got[("jc_power_rail_average_watts", frozenset({("rail", "POM_5V_IN")}))] == pytest.approx(3.422)
    assert got[("jc_memory_ram_total_bytes", frozenset())] == 3956 * 1024 * 1024
    assert got[("jc_cpu_frequency_hertz", frozenset({("cpu", "3")}))] == 1479e6
    assert ("jc_gpu_throttled", gpu) not in got  # tegrastats says nothing about throttle reasons


def test_cores_off_are_exported_as_offline_without_load():
    got = samples(exporter.record_metrics(parse_tegrastats_line(fixture_line("tx2_jp46_cores_off.txt"))))
    assert got[("jc_cpu_online", frozenset({("cpu", "1")}))] == 0.0
    assert ("jc_cpu_load_ratio", frozenset({("cpu", "1")})) not in got
    assert got[("jc_cpu_online", frozenset({("cpu", "0")}))] == 1.0


def test_h200_under_load_is_exported_as_throttled_by_the_power_cap():
    with open(FIXTURES / "nvidia_smi" / "h200_matmul_load_1hz.csv") as handle:
        record = parse_nvidia_smi_csv(list(split_nvidia_smi_stream(handle))[10])
    got = samples(exporter.record_metrics(record))
    gpu = frozenset({("gpu", "0"), ("name", "NVIDIA H200")})
    assert got[("jc_gpu_throttled", gpu)] == 1.0
    assert got[("jc_gpu_clock_event_reason", gpu | {("reason", "sw_power_cap")})] == 1.0
    assert got[("jc_gpu_clock_event_reason", gpu | {("reason", "hw_thermal_slowdown")})] == 0.0
    assert got[("jc_gpu_clock_hertz", gpu)] < got[("jc_gpu_clock_max_hertz", gpu)]
    assert got[("jc_gpu_power_limit_watts", gpu)] == 700.0
    assert got[("jc_temperature_celsius", frozenset({("sensor", "GPU0")}))] == 58.0


def test_stale_record_is_not_exported_but_up_says_zero():
    state = exporter.State("tegrastats")
    state.publish(parse_tegrastats_line(fixture_line("nano_jp4_l4t32_sudo.txt")))
    state.updated -= 60
    got = samples(exporter.RecordCollector(state, max_age_s=5).collect())
    assert got[("jc_telemetry_up", frozenset())] == 0.0
    assert not any(name.startswith("jc_gpu_") for name, _labels in got)


# ---------------------------------------------------------------------------------------------
# The program, for real, over HTTP
# ---------------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as response:
        return samples(text_string_to_metric_families(response.read().decode()))


def start(args, env=None):
    port = free_port()
    environment = dict(os.environ, PYTHONPATH=str(ROOT / ".cache" / "project-collections"))
    environment.update(env or {})
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--address", "127.0.0.1", "--port", str(port)] + args,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, port


def wait_for(port, predicate, proc, timeout=20):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("exporter exited: %s" % proc.stdout.read())
        try:
            last = scrape(port)
            if predicate(last):
                return last
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("condition not met; last scrape: %r" % (last,))


@pytest.fixture
def running():
    procs = []

    def _start(args, env=None):
        proc, port = start(args, env)
        procs.append(proc)
        return proc, port

    yield _start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.stdout.close()


def test_tegrastats_source_serves_the_replayed_board(running):
    proc, port = running(["--source", "tegrastats", "--tegrastats", str(FIXTURES / "fake-tegrastats"),
                          "--interval", "0.2"],
                         {"FAKE_TEGRASTATS_LINES": str(FIXTURES / "tegrastats" / "orin_jp6_loaded.txt"),
                          "FAKE_TEGRASTATS_EXTRA": "this is not tegrastats"})
    got = wait_for(port, lambda s: s.get(("jc_telemetry_up", frozenset())) == 1.0, proc)
    assert got[("jc_telemetry_source_info", frozenset({("source", "tegrastats")}))] == 1.0
    assert got[("jc_gpu_utilization_ratio", frozenset({("gpu", "0"), ("name", "tegra")}))] == pytest.approx(0.84)
    assert got[("jc_power_rail_watts", frozenset({("rail", "VDD_IN")}))] == pytest.approx(17.946)
    assert got[("jc_telemetry_parse_errors_total", frozenset())] == 1.0
    rss_kib = int([l for l in Path("/proc/%d/status" % proc.pid).read_text().splitlines()
                   if l.startswith("VmRSS:")][0].split()[1])
    assert rss_kib <= 30 * 1024, "the exporter needs %d KiB, the budget on a 4 GB Nano is 30 MiB" % rss_kib


def test_nvidia_smi_source_serves_the_replayed_h200(running):
    proc, port = running(["--source", "nvidia-smi", "--nvidia-smi", str(FIXTURES / "fake-nvidia-smi"),
                          "--interval", "0.05"])
    gpu = frozenset({("gpu", "0"), ("name", "NVIDIA H200")})
    got = wait_for(port, lambda s: s.get(("jc_gpu_throttled", gpu)) == 1.0, proc)
    assert got[("jc_gpu_clock_event_reason", gpu | {("reason", "sw_power_cap")})] == 1.0
    assert got[("jc_gpu_memory_total_bytes", gpu)] == 143771 * 1024 * 1024


def test_linux_source_serves_this_host(running):
    proc, port = running(["--source", "linux", "--interval", "0.2"])
    got = wait_for(port, lambda s: s.get(("jc_telemetry_up", frozenset())) == 1.0, proc)
    assert got[("jc_cpu_online", frozenset({("cpu", "0")}))] == 1.0
    assert 0.0 <= got[("jc_cpu_load_ratio", frozenset({("cpu", "0")}))] <= 1.0
    assert got[("jc_memory_ram_total_bytes", frozenset())] > 0


def test_a_dying_tegrastats_is_restarted_and_goes_stale_meanwhile(running):
    proc, port = running(["--source", "tegrastats", "--tegrastats", str(FIXTURES / "fake-tegrastats"),
                          "--interval", "0.1", "--restart-backoff", "0.5", "--max-age", "0.3"],
                         {"FAKE_TEGRASTATS_COUNT": "1"})
    got = wait_for(port, lambda s: s.get(("jc_telemetry_source_restarts_total", frozenset()), 0) >= 2, proc)
    assert got[("jc_telemetry_samples_total", frozenset())] >= 2


def test_auto_source_falls_back_to_linux_without_the_tools(running):
    proc, port = running(["--tegrastats", "/nonexistent/tegrastats", "--nvidia-smi", "/nonexistent/nvidia-smi",
                          "--interval", "0.2"])
    got = wait_for(port, lambda s: s.get(("jc_telemetry_up", frozenset())) == 1.0, proc)
    assert got[("jc_telemetry_source_info", frozenset({("source", "linux")}))] == 1.0


def test_nvidia_smi_that_cannot_list_fields_makes_the_exporter_exit_for_systemd(running):
    proc, port = running(["--source", "nvidia-smi", "--nvidia-smi", "/nonexistent/nvidia-smi",
                          "--restart-backoff", "0.1"])
    assert proc.wait(timeout=20) == 1
    assert "cannot list the query fields" in proc.stdout.read()


# --record: the benchmark's per-node trace (gpu_workloads' tasks/telemetry_*.yml)

def record(tmp_path, args, env=None, lines=4):
    """Run --record until the trace holds `lines` lines, then make the stop file appear; the trace's
    samples, the exit status and the output."""
    from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.telemetry import load_trace

    trace, stop = tmp_path / "node.jsonl", tmp_path / "stop"
    environment = dict(os.environ, PYTHONPATH=str(ROOT / ".cache" / "project-collections"))
    environment.update(env or {})
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--record", str(trace), "--stop-file", str(stop),
                             "--node", "worker7"] + args,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 30
    while time.time() < deadline and proc.poll() is None and (
            not trace.exists() or trace.read_text().count("\n") < lines):
        time.sleep(0.1)
    stop.touch()
    code = proc.wait(timeout=20)
    output = proc.stdout.read()
    proc.stdout.close()
    return load_trace(trace.read_text()) if trace.exists() else [], code, output


def test_record_mode_writes_the_replayed_board_at_its_interval_and_stops_on_the_stop_file(tmp_path):
    samples, code, output = record(tmp_path, ["--source", "tegrastats", "--interval", "0.2",
                                              "--tegrastats", str(FIXTURES / "fake-tegrastats")],
                                   {"FAKE_TEGRASTATS_LINES": str(FIXTURES / "tegrastats" / "orin_jp6_loaded.txt")})
    assert code == 0, output
    assert len(samples) >= 4 and {sample["node"] for sample in samples} == {"worker7"}
    assert samples[0]["record"]["gpus"][0]["clock_mhz"] == 713.0
    gaps = [b["time"] - a["time"] for a, b in zip(samples, samples[1:])]
    assert all(0.1 < gap < 0.6 for gap in gaps), gaps


def test_record_mode_needs_no_prometheus_client(tmp_path):
    blocker = tmp_path / "block" / "prometheus_client"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked by the test')\n")
    paths = os.pathsep.join([str(tmp_path / "block"), str(ROOT / ".cache" / "project-collections")])
    samples, code, output = record(tmp_path, ["--source", "linux", "--interval", "0.2"], {"PYTHONPATH": paths})
    assert code == 0, output
    assert samples and samples[-1]["record"]["source"] == "linux"


def test_serving_without_prometheus_client_fails_with_a_clear_message(tmp_path):
    blocker = tmp_path / "block" / "prometheus_client"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked by the test')\n")
    paths = os.pathsep.join([str(tmp_path / "block"), str(ROOT / ".cache" / "project-collections")])
    proc = subprocess.run([sys.executable, str(SCRIPT), "--source", "linux"], env=dict(os.environ, PYTHONPATH=paths),
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 2 and "prometheus_client is not installed" in proc.stderr
