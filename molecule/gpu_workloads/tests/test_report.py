"""The benchmark left a sane report on the controller (molecule's ephemeral directory)."""

import json
import os
import struct
from pathlib import Path

import pytest

REPORT = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "report"
SYNTHETIC_IMAGES = 64
DATASET_IMAGES = 40  # plus one corrupt file


@pytest.fixture(scope="module")
def results():
    return json.loads((REPORT / "results.json").read_text())


def runs(results, workload):
    return {run["jobs"]: run["aggregate"] for run in results["runs"] if run["workload"] == workload}


def test_both_workloads_ran_on_one_and_two_nodes(results):
    assert [(run["workload"], run["jobs"]) for run in results["runs"]] == [
        ("synthetic", 1), ("synthetic", 2), ("files", 1), ("files", 2)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_synthetic_runs_process_every_image_without_errors(results, jobs):
    agg = runs(results, "synthetic")[jobs]
    assert (agg["images"], agg["errors"], agg["missing_indices"]) == (SYNTHETIC_IMAGES, 0, [])


@pytest.mark.parametrize("jobs", [1, 2])
def test_files_runs_count_the_corrupt_file_as_an_error(results, jobs):
    agg = runs(results, "files")[jobs]
    assert (agg["images"], agg["errors"]) == (DATASET_IMAGES, 1)


def test_two_way_run_used_both_nodes(results):
    hosts = sorted(pod["hostname"] for pod in runs(results, "synthetic")[2]["per_pod"])
    assert hosts == ["gpu-node1-0", "gpu-node2-1"]


@pytest.mark.parametrize("workload", ["synthetic", "files"])
def test_numbers_are_consistent(results, workload):
    for jobs, agg in runs(results, workload).items():
        assert agg["throughput"] == pytest.approx(agg["images"] / agg["makespan_seconds"])
        assert agg["speedup"] == pytest.approx(agg["throughput"] / runs(results, workload)[1]["throughput"])
        assert agg["efficiency"] == pytest.approx(agg["speedup"] / jobs)
        assert agg["imbalance"] >= 1.0


def test_baseline_has_speedup_one(results):
    assert runs(results, "synthetic")[1]["speedup"] == pytest.approx(1.0)


def test_report_has_a_table_per_workload():
    text = (REPORT / "report.md").read_text()
    assert "## Workload I: synthetic tensors" in text and "## Workload II: JPEG files" in text


def test_plot_is_a_png():
    png = (REPORT / "benchmark.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24])[0] > 500


def test_every_pod_log_was_kept():
    logs = sorted(str(p.relative_to(REPORT / "logs")) for p in (REPORT / "logs").glob("*/*.log"))
    assert logs == ["files-1/index-0.log", "files-2/index-0.log", "files-2/index-1.log",
                    "synthetic-1/index-0.log", "synthetic-2/index-0.log", "synthetic-2/index-1.log"]


def test_report_says_the_nodes_share_this_machines_cpus(results):
    # Both "nodes" are containers of the test machine: one kernel boot ID.
    probes = results["host_sharing"]["probes"]
    assert len(probes) == 2 and probes[0][0] == probes[1][0]
    text = (REPORT / "report.md").read_text()
    assert "## The workers share one machine's CPUs" in text and "What they do not show" in text
