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


def pod_results(workload, jobs):
    """Each pod's own result line (index, images, seconds), read straight from the kept logs."""
    found = []
    for log in sorted((REPORT / "logs" / ("%s-%d" % (workload, jobs))).glob("*.log")):
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        mine = [line for line in lines if isinstance(line, dict) and {"index", "images", "seconds"} <= set(line)]
        assert len(mine) == 1, "%s: %d result lines" % (log, len(mine))
        found.append(mine[0])
    return found


@pytest.mark.parametrize("workload", ["synthetic", "files"])
def test_numbers_match_the_pod_logs(results, workload):
    # Expected values from the pods' own lines, not from the aggregate's other fields: a wrong
    # makespan, image count or baseline cannot agree with itself here.
    baseline = pod_results(workload, 1)
    baseline_throughput = sum(p["images"] for p in baseline) / max(p["seconds"] for p in baseline)
    for jobs, agg in runs(results, workload).items():
        pods = pod_results(workload, jobs)
        assert sorted(p["index"] for p in pods) == list(range(jobs))
        images = sum(p["images"] for p in pods)
        makespan = max(p["seconds"] for p in pods)
        assert agg["images"] == images
        assert agg["makespan_seconds"] == pytest.approx(makespan)
        assert agg["throughput"] == pytest.approx(images / makespan)
        assert agg["imbalance"] == pytest.approx(makespan / min(p["seconds"] for p in pods))
        assert agg["speedup"] == pytest.approx(images / makespan / baseline_throughput)
        assert agg["efficiency"] == pytest.approx(images / makespan / baseline_throughput / jobs)


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
