"""benchmarks/gpu_bench.py (run on a GPU machine, never in tests) aggregates its multi-GPU runs with
the benchmark_aggregate module's own code, and starts the workload as the image does. Only the
parts that need no GPU are tested here; pytest.ini puts benchmarks/ and the jc_infer package's
directory on sys.path."""

import os
import sys
from pathlib import Path

import gpu_bench
import pytest

MODULE_UTILS = Path(__file__).resolve().parents[3] / "plugins" / "module_utils"


@pytest.fixture(autouse=True)
def module_utils_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(MODULE_UTILS))  # as gpu_bench.main() does with --module-utils


def test_defaults_point_at_this_checkout():
    assert os.path.isfile(os.path.join(gpu_bench.DEFAULT_INFER, "jc_infer", "__main__.py"))
    assert os.path.isfile(os.path.join(gpu_bench.DEFAULT_MODULE_UTILS, "benchmark.py"))


def test_multi_gpu_numbers_are_the_modules():
    # The reference cluster (issue 7): 1200 images in 150 s on one node; 3 pods of 400, slowest 99 s.
    pods = [{"index": i, "images": 400, "seconds": float(s), "total_jobs": 3} for i, s in enumerate((99, 90, 95))]
    agg = gpu_bench.aggregate_pods(pods, {"images": 1200, "seconds": 150})
    assert (round(agg["throughput"], 2), round(agg["speedup"], 3), round(agg["efficiency"], 3)) == (12.12, 1.515, 0.505)
    assert agg["imbalance"] == pytest.approx(99 / 90) and agg["makespan_seconds"] == 99.0


def test_a_run_that_lost_a_gpus_result_is_refused():
    pods = [{"index": 0, "images": 400, "seconds": 99.0, "total_jobs": 2}]
    with pytest.raises(Exception, match="total_jobs=2 but expected_jobs is 1"):
        gpu_bench.aggregate_pods(pods, {"images": 800, "seconds": 150})


def test_workload_processes_run_the_package(tmp_path, monkeypatch):
    seen = {}

    class FakePopen(object):
        def __init__(self, argv, env, **_kwargs):
            seen.update(argv=argv, pythonpath=env["PYTHONPATH"])

    monkeypatch.setattr(gpu_bench.subprocess, "Popen", FakePopen)
    (tmp_path / "logs").mkdir()
    args = type("Args", (), {"out": str(tmp_path), "infer": gpu_bench.DEFAULT_INFER})()
    gpu_bench.run_infer(args, {"WORKLOAD_MODE": "synthetic"}, 0, "label", "x.log")[2].close()
    assert seen["argv"] == [sys.executable, "-m", "jc_infer"]
    assert seen["pythonpath"].split(os.pathsep)[0] == gpu_bench.DEFAULT_INFER
