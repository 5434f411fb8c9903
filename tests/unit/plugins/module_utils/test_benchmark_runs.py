"""aggregate_runs: a whole benchmark aggregated once, each run against its workload's first run.

The logs are real pod logs of the gpu_workloads scenario (Docker runner, CPU torch), see
tests/fixtures/benchmark/.
"""

import json
import shutil
from pathlib import Path

import pytest

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.benchmark import (
    BenchmarkError,
    aggregate,
    aggregate_runs,
    read_src,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "benchmark"
FILES_1 = str(FIXTURES / "docker-cpu-files-1" / "logs")
FILES_2 = str(FIXTURES / "docker-cpu-files-2" / "logs")
SYNTHETIC_2 = str(FIXTURES / "docker-cpu-synthetic-2" / "logs")


def test_each_run_is_compared_with_its_workloads_first_run():
    runs = aggregate_runs([{"workload": "files", "jobs": 1, "src": FILES_1, "logs": "logs/files-1"},
                           {"workload": "files", "jobs": 2, "src": FILES_2, "logs": "logs/files-2"}])
    base, two = runs[0]["aggregate"], runs[1]["aggregate"]
    # Worked out by hand from the fixtures' result lines, not by the formulas under test:
    # files-1: index 0 did 40 images in 87.49848 s -> 0.45715 img/s;
    # files-2: 20 + 20 images, the slower pod 39.574398 s -> 40 / 39.574398 = 1.01075 img/s;
    # speed-up 1.01075 / 0.45715 = 2.2110 (same 40 images: 87.49848 / 39.574398), efficiency 2.2110 / 2.
    assert (base["images"], base["throughput"], base["speedup"]) == (40, pytest.approx(0.45715, abs=1e-5), 1.0)
    assert (two["images"], two["throughput"]) == (40, pytest.approx(1.01075, abs=1e-5))
    assert two["speedup"] == pytest.approx(2.2110, abs=1e-4)
    assert two["efficiency"] == pytest.approx(1.1055, abs=1e-4)


def test_the_numbers_are_those_of_the_single_run_aggregate():
    runs = aggregate_runs([{"workload": "files", "jobs": 1, "src": FILES_1},
                           {"workload": "files", "jobs": 2, "src": FILES_2}])
    alone = aggregate(read_src(FILES_2), expected_jobs=2, baseline=aggregate(read_src(FILES_1), expected_jobs=1))
    assert runs[1]["aggregate"] == alone


def test_runs_keep_their_order_and_their_other_keys():
    runs = aggregate_runs([{"workload": "files", "jobs": 2, "src": FILES_2, "logs": "logs/files-2"},
                           {"workload": "synthetic", "jobs": 2, "src": SYNTHETIC_2, "logs": "logs/synthetic-2"}])
    assert [(r["workload"], r["jobs"], r["logs"]) for r in runs] == [
        ("files", 2, "logs/files-2"), ("synthetic", 2, "logs/synthetic-2")]
    assert "src" not in runs[0]
    # each is its workload's first run, so its own baseline
    assert [r["aggregate"]["speedup"] for r in runs] == [pytest.approx(1.0), pytest.approx(1.0)]


def test_results_given_inline_work_as_logs_do():
    pods = [{"index": i, "images": 400, "seconds": s} for i, s in enumerate((95.2, 97.8, 99.0))]
    runs = aggregate_runs([{"workload": "synthetic", "jobs": 1, "results": [{"index": 0, "images": 1200,
                                                                             "seconds": 150.0}]},
                           {"workload": "synthetic", "jobs": 3, "results": pods}])
    assert round(runs[1]["aggregate"]["speedup"], 2) == 1.52


def test_a_missing_index_fails_naming_the_run(tmp_path):
    shutil.copy(str(Path(FILES_2) / "index-0.log"), str(tmp_path / "index-0.log"))
    with pytest.raises(BenchmarkError, match=r"files x2 \(%s\): no result from job index\(es\) 1" % tmp_path):
        aggregate_runs([{"workload": "files", "jobs": 2, "src": str(tmp_path)}])


def test_a_failed_pod_fails_naming_the_run(tmp_path):
    (tmp_path / "index-0.log").write_text(json.dumps({"error": "IMAGE_DIR=/data/images holds no JPEG images",
                                                      "images": 0, "errors": 0}) + "\n")
    with pytest.raises(BenchmarkError, match="files x1 .*holds no JPEG images"):
        aggregate_runs([{"workload": "files", "jobs": 1, "src": str(tmp_path)}])


@pytest.mark.parametrize("runs, message", [
    ([], "non-empty list"),
    ("files", "non-empty list"),
    ([["files", 1]], r"runs\[0\] must be a mapping"),
    ([{"workload": "files", "jobs": 0, "src": FILES_1}], "job count >= 1"),
    ([{"workload": "", "jobs": 1, "src": FILES_1}], "workload name"),
    ([{"workload": "files", "jobs": True, "src": FILES_1}], "job count"),
    ([{"workload": "files", "jobs": 1}], "exactly one of src and results"),
    ([{"workload": "files", "jobs": 1, "src": FILES_1, "results": []}], "exactly one of src and results"),
])
def test_bad_runs_are_refused_clearly(runs, message):
    with pytest.raises(BenchmarkError, match=message):
        aggregate_runs(runs)
