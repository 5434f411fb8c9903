"""benchmarks/report.py's time-to-result plot data (issue 15), on the committed 2x H200 run."""

import json
import os

import pytest
import report

RUN = report.STARTUP_RUN


@pytest.fixture(scope="module")
def series():
    with open(RUN) as handle:
        return report.startup_series(json.load(handle))


def test_every_variant_and_gpu_count_has_its_median_run(series):
    assert sorted(series) == [("after", "1_gpu"), ("after", "2_gpu"), ("before", "1_gpu"), ("before", "2_gpu")]
    assert [len(series[k]["pods"]) for k in sorted(series)] == [1, 2, 1, 2]
    assert all(v["images"] == 200000 for v in series.values())


def test_a_pods_phases_add_up_to_its_wall_clock(series):
    with open(RUN) as handle:
        results = json.load(handle)
    walls = {(v, k): sorted(p["wall_seconds"] for p in report._median_run(results["multi"][v][k]["runs"])["pods"])
             for v, k in series}
    for key, data in series.items():
        totals = sorted(sum(phases.values()) for _, phases in data["pods"])
        assert totals == pytest.approx(walls[key], abs=0.02)
        low, mid, high = data["wall"][1], data["wall"][0], data["wall"][2]
        assert low <= mid <= high


def test_the_plot_is_written(tmp_path, series):
    with open(RUN) as handle:
        report.startup_plot(json.load(handle), str(tmp_path / "t.png"))
    assert os.path.getsize(str(tmp_path / "t.png")) > 10000
