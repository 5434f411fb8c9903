"""jc_report.py's node telemetry: per-node plots aligned with each pod's phases, and throttling
flagged by node. The traces (tests/helpers/telemetry_traces.py): worker1 is a real H200 capture at
its power cap (throttle reason + clock drop), worker2 a trace BUILT from two real AGX Xavier lines
(cool, then GPU@89C), worker3 the same Xavier's cool line only."""

import json
import struct

import jc_report
from telemetry_traces import T0, as_file, h200_trace, xavier_trace

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.benchmark import aggregate


def pod(index, node, started, seconds=8.0):
    return {"index": index, "total_jobs": 3, "images": 400, "seconds": seconds, "errors": 0, "warmup_seconds": 2.0,
            "startup_seconds": 1.0, "hostname": "jc-infer-synthetic-3-%d-abcde" % index, "node": node,
            "timeline": {"warmup_start": started, "window_start": started + 2.0, "window_end": started + 2.0 + seconds}}


def write_results(tmp_path, traces):
    (tmp_path / "telemetry").mkdir()
    for node, samples in traces.items():
        (tmp_path / "telemetry" / ("%s.jsonl" % node)).write_text(as_file(samples))
    pods = [pod(0, "worker1", T0 + 3), pod(1, "worker2", T0 + 1), pod(2, "worker3", T0 + 1)]
    run = {"workload": "synthetic", "jobs": 3, "logs": "logs/synthetic-3",
           "aggregate": aggregate(pods, expected_jobs=3)}
    results = {"version": 1, "created": "2026-11-30T12:00:00Z", "runner": "kubernetes", "workers": sorted(traces),
               "runs": [run], "telemetry": {"interval": 1,
                                            "nodes": {node: "telemetry/%s.jsonl" % node for node in traces}}}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    return path


def run_report(tmp_path, capsys, traces):
    path = write_results(tmp_path, traces)
    assert jc_report.main([str(path), "--out", str(tmp_path)]) == 0
    return json.loads(capsys.readouterr().out), (tmp_path / "report.md").read_text()


def test_throttled_nodes_are_flagged_by_name_with_what_showed_it(tmp_path, capsys):
    out, report = run_report(tmp_path, capsys, {"worker1": h200_trace("worker1"), "worker2": xavier_trace("worker2"),
                                                "worker3": xavier_trace("worker3", cool=10, hot=0)})
    assert "**THROTTLED: worker1, worker2.**" in report
    rows = [line for line in report.splitlines() if line.startswith("| worker")]
    assert any(row.startswith("| worker1 | throttle reason | GPU 0: sw_power_cap") for row in rows)
    assert any(row.startswith("| worker1 | clock drop under load |") for row in rows)
    assert any(row.startswith("| worker2 | over the temperature limit | CPU at 89.5 °C") for row in rows)
    assert not any(row.startswith("| worker3") for row in rows)
    assert out["throttled"] == ["worker1", "worker2"] and "THROTTLED: worker1, worker2" in out["summary"]


def test_an_unthrottled_benchmark_gets_no_flag_and_still_its_plots(tmp_path, capsys):
    out, report = run_report(tmp_path, capsys, {"worker1": h200_trace("worker1", files=("h200_idle.csv",)),
                                                "worker2": xavier_trace("worker2", cool=10, hot=0)})
    assert "THROTTLED" not in report and "THROTTLED" not in out["summary"] and out["throttled"] == []
    assert "No throttling seen on worker1, worker2" in report
    png = (tmp_path / "telemetry.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24])[1] > struct.unpack(">II", png[16:24])[0] / 4  # two node rows
    assert str(tmp_path / "telemetry.png") in out["files"]


def test_each_pods_phases_are_placed_on_its_node():
    results = {"runs": [{"workload": "synthetic", "jobs": 2, "aggregate": {"per_pod": [
        pod(0, None, 100.0) | {"hostname": "worker1-0"}, pod(1, "worker2", 105.0)]}}]}
    windows = jc_report.pod_windows(results, {"worker1": [], "worker2": []})
    assert [(w["node"], w["started"], w["window_start"], w["window_end"]) for w in windows] == [
        ("worker1", 99.0, 102.0, 110.0), ("worker2", 104.0, 107.0, 115.0)]


def test_a_missing_trace_is_said_and_does_not_stop_the_report(tmp_path, capsys):
    path = write_results(tmp_path, {"worker1": xavier_trace("worker1", cool=3, hot=0)})
    results = json.loads(path.read_text())
    results["telemetry"]["nodes"]["worker9"] = "telemetry/worker9.jsonl"
    path.write_text(json.dumps(results))
    assert jc_report.main([str(path), "--out", str(tmp_path)]) == 0
    assert "- worker9: no telemetry" in (tmp_path / "report.md").read_text()


def test_a_benchmark_without_telemetry_has_no_telemetry_section(tmp_path, capsys):
    path = write_results(tmp_path, {})
    assert jc_report.main([str(path), "--out", str(tmp_path)]) == 0
    assert "Node telemetry" not in (tmp_path / "report.md").read_text()
    assert not (tmp_path / "telemetry.png").exists()
