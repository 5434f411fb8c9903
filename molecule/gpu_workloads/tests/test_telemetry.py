"""The benchmark recorded every node's telemetry for the whole run and the report shows it.

Both nodes are containers without tegrastats or nvidia-smi, so the recorder reads /proc and /sys
(the linux source); the image has no prometheus_client, so each pod says so once and runs on.
"""

import json
import os
from pathlib import Path

import pytest

testinfra_hosts = ["gpu-node1", "gpu-node2"]

REPORT = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "report"
NODES = ["gpu-node1", "gpu-node2"]


@pytest.fixture(scope="module")
def results():
    return json.loads((REPORT / "results.json").read_text())


@pytest.fixture(scope="module")
def traces(results):
    return {node: sorted((json.loads(line) for line in (REPORT / path).read_text().splitlines() if line.strip()),
                         key=lambda sample: sample["time"])
            for node, path in results["telemetry"]["nodes"].items()}


def pods(results):
    return [pod for run in results["runs"] for pod in run["aggregate"]["per_pod"]]


def test_every_worker_was_recorded_from_the_linux_source(results, traces):
    assert results["telemetry"]["nodes"] == {node: "telemetry/%s.jsonl" % node for node in NODES}
    for node, samples in traces.items():
        assert {s["node"] for s in samples} == {node}
        assert {s["record"]["source"] for s in samples} == {"linux"}


def test_the_traces_cover_every_pods_warm_up_and_timed_window_on_its_node(results, traces):
    for pod in pods(results):
        if not pod["images"]:
            continue
        samples = traces[pod["node"]]
        assert samples[0]["time"] <= pod["timeline"]["warmup_start"], pod
        assert samples[-1]["time"] >= pod["timeline"]["window_end"] - 1.5, pod


def test_samples_come_about_once_a_second(traces):
    for samples in traces.values():
        gaps = sorted(b["time"] - a["time"] for a, b in zip(samples, samples[1:]))
        assert 0.8 <= gaps[len(gaps) // 2] <= 1.5, gaps[len(gaps) // 2]


def test_the_report_has_the_node_telemetry_section_and_plot():
    text = (REPORT / "report.md").read_text()
    assert "## Node telemetry" in text and "![node telemetry](telemetry.png)" in text
    assert (REPORT / "telemetry.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_pod_said_once_that_it_has_no_prometheus_client():
    for log in (REPORT / "logs").glob("*/*.log"):
        assert log.read_text().count("prometheus_client is not installed") == 1, log


def test_no_recorder_is_left_running(host):
    recorders = [p for p in host.process.filter(comm="python3") if "--record" in p.args]
    assert recorders == []
