"""Behaviour of roles/gpu_workloads/files/jc_report.py (report.md and benchmark.png)."""

import importlib.util
import json
import struct
from pathlib import Path

import pytest

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.benchmark import aggregate

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "roles" / "gpu_workloads" / "files" / "jc_report.py"
_spec = importlib.util.spec_from_file_location("jc_report", SCRIPT)
jc_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jc_report)

BASELINE_PODS = [{"index": 0, "images": 1200, "seconds": 150.0, "errors": 0, "hostname": "worker1"}]
THREE_WAY_PODS = [
    {"index": 0, "images": 400, "seconds": 95.2, "errors": 0, "hostname": "worker1", "device": "cuda"},
    {"index": 1, "images": 400, "seconds": 97.8, "errors": 0, "hostname": "worker2", "device": "cuda"},
    {"index": 2, "images": 399, "seconds": 99.0, "errors": 1, "hostname": "worker3", "device": "cuda"},
]


def run_entry(workload, pods, baseline):
    summary = aggregate([dict(p) for p in pods], expected_jobs=len(pods), baseline=baseline)
    return {"workload": workload, "jobs": len(pods), "logs": "logs/%s-%d" % (workload, len(pods)),
            "aggregate": summary}


def reference_results():
    single = aggregate([dict(p) for p in BASELINE_PODS], expected_jobs=1)
    return {
        "version": 1,
        "created": "2026-11-23T10:00:00Z",
        "runner": "kubernetes",
        "image": "edgeai-jc/jc-infer:0.1.0",
        "image_id": "sha256:" + "ab" * 32,
        "workers": ["worker1", "worker2", "worker3"],
        "settings": {"BATCH_SIZE": "auto", "PRECISION": "auto"},
        "runs": [
            run_entry("synthetic", BASELINE_PODS, single),
            run_entry("synthetic", THREE_WAY_PODS, single),
            run_entry("files", BASELINE_PODS, single),
        ],
    }


@pytest.fixture
def results_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(reference_results()))
    return path


def table_rows(markdown, header_start):
    """The data rows of the first table whose header starts with header_start."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| " + header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_summary_table_shows_the_reference_numbers():
    rows = table_rows(jc_report.render_markdown(reference_results()), "nodes | images")
    assert rows[1] == ["3", "1199", "99.00", "12.1", "1.51", "0.50", "1.04", "1"]


def test_baseline_row_has_speedup_and_efficiency_one():
    rows = table_rows(jc_report.render_markdown(reference_results()), "nodes | images")
    assert rows[0][4:6] == ["1.00", "1.00"]


def test_every_workload_gets_its_own_section_in_run_order():
    markdown = jc_report.render_markdown(reference_results())
    sections = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert sections == ["## Workload I: synthetic tensors", "## Workload II: JPEG files"]


def test_per_pod_rows_name_host_and_time():
    rows = table_rows(jc_report.render_markdown(reference_results()), "nodes | index")
    assert rows[3] == ["3", "2", "worker3", "399", "1", "99.00", "4.0", "-", "cuda"]


def test_report_names_runner_image_and_workers():
    markdown = jc_report.render_markdown(reference_results())
    assert "- Runner: kubernetes; workers: worker1, worker2, worker3" in markdown
    assert "- Image: edgeai-jc/jc-infer:0.1.0 (sha256:abababababab)" in markdown


@pytest.mark.parametrize(
    "key, expected",
    [
        ("nodes", [1, 3]),
        ("speedup", [1.0, pytest.approx(1199 / 99.0 / 8.0)]),
        ("ideal", [1.0, 3.0]),
        ("bars", [("1:#0", 150.0), ("3:#0", 95.2), ("3:#1", 97.8), ("3:#2", 99.0)]),
    ],
)
def test_plot_series_of_the_synthetic_workload(key, expected):
    assert jc_report.plot_series(reference_results())["synthetic"][key] == expected


def test_plot_series_are_sorted_by_nodes_whatever_the_run_order():
    results = reference_results()
    results["runs"] = list(reversed(results["runs"]))
    assert jc_report.plot_series(results)["synthetic"]["nodes"] == [1, 3]


def test_main_writes_the_report_and_a_png(tmp_path, results_file, capsys):
    assert jc_report.main([str(results_file), "--out", str(tmp_path)]) == 0
    png = (tmp_path / "benchmark.png").read_bytes()
    width, height = struct.unpack(">II", png[16:24])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (width, height) == (1100, 720)
    assert (tmp_path / "report.md").read_text().startswith("# Inference benchmark")
    assert json.loads(capsys.readouterr().out)["changed"] is True


def test_second_run_on_the_same_results_changes_nothing(tmp_path, results_file, capsys):
    jc_report.main([str(results_file), "--out", str(tmp_path)])
    capsys.readouterr()
    jc_report.main([str(results_file), "--out", str(tmp_path)])
    assert json.loads(capsys.readouterr().out)["changed"] is False


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "is not valid JSON"),
        (json.dumps({"version": 2, "runs": []}), "is not a version 1 benchmark result"),
        (json.dumps({"version": 1, "runs": []}), "holds no runs"),
        (json.dumps({"version": 1, "runs": [{"workload": "files", "jobs": 1}]}), "run 0 lacks 'aggregate'"),
    ],
    ids=["not-json", "wrong-version", "no-runs", "run-without-aggregate"],
)
def test_bad_results_exit_2_with_a_message(tmp_path, capsys, content, message):
    path = tmp_path / "results.json"
    path.write_text(content)
    assert jc_report.main([str(path), "--out", str(tmp_path)]) == 2
    assert message in json.loads(capsys.readouterr().out)["error"]


# --- a results.json written by playbooks/benchmark.yml in the container lab (Docker runner, CPU)

LAB_RESULTS = ROOT / "tests" / "fixtures" / "benchmark_report" / "lab-docker-cpu.json"


def test_lab_results_render_one_row_per_run():
    markdown = jc_report.render_markdown(jc_report.load_results(str(LAB_RESULTS)))
    assert table_rows(markdown, "nodes | images") == [
        ["1", "64", "3.42", "18.7", "1.00", "1.00", "1.00", "0"],
        ["2", "64", "4.14", "15.5", "0.83", "0.41", "1.15", "0"],
    ]


def test_lab_results_plot_both_workers_pods():
    bars = jc_report.plot_series(jc_report.load_results(str(LAB_RESULTS)))["files"]["bars"]
    assert [label for label, _ in bars] == ["1:#0", "2:#0", "2:#1"]
