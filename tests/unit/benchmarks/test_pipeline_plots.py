"""benchmarks/pipeline_plots.py: workload III's panels from a committed pipeline_bench.py result."""

import json
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import pipeline_plots  # noqa: E402

RUN2 = ROOT / "benchmarks" / "results" / "pipeline_h200_run2" / "pipeline.json"


def results():
    return json.loads(RUN2.read_text())


def test_latency_panel_has_the_monolith_and_three_lines_per_depth():
    fig, ax = plt.subplots()
    pipeline_plots.latency_by_size(ax, results())
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0] == "monolith" and len(labels) == 1 + 3 * 3
    assert [t.get_text() for t in ax.get_xticklabels()] == ["128x128", "256x256", "512x512", "1280x720", "1024x1024"]
    plt.close(fig)


def test_ccr_panel_plots_the_measured_ratios():
    data = results()
    fig, ax = plt.subplots()
    pipeline_plots.ccr_by_size(ax, data)
    four = [line for line in ax.get_lines() if line.get_label() == "4 st., wall"][0]
    assert list(four.get_ydata())[-1] == data["sizes"]["1024x1024"]["depth4"]["ccr"]
    plt.close(fig)


def test_placement_panel_draws_one_bar_per_row_against_the_monolith():
    rows = [{"placement": "EEEE", "depth": 4, "size": "1280x720", "fps": 20.0, "monolith_fps": 10.0},
            {"placement": "SSSS", "depth": 4, "size": "1280x720", "fps": 5.0, "monolith_fps": 10.0}]
    fig, ax = plt.subplots()
    pipeline_plots.fps_by_placement(ax, rows)
    assert sorted(p.get_height() for p in ax.patches) == [0.5, 2.0]
    plt.close(fig)


def test_write_makes_a_png(tmp_path):
    path = pipeline_plots.write(results(), str(tmp_path / "p.png"),
                                placements=[{"placement": "EESS", "depth": 4, "size": "128x128", "fps": 1.0,
                                             "monolith_fps": 2.0}])
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_latency_by_placement_draws_end_to_end_bars_and_the_per_image_split():
    rows = [{"size": "64x64", "depth": 2, "placement": p, "latency_median": 0.02, "communication": 0.003,
             "computation": 0.001, "monolith_computation": 0.0008, "fps": 10.0, "monolith_fps": 12.0}
            for p in ("SS", "ES")]
    fig, ax = plt.subplots()
    pipeline_plots.latency_by_placement(ax, rows)
    assert [b.get_height() for b in ax.patches] == [20.0, 20.0]
    split = [line for line in ax.get_lines() if line.get_label() == "communication + computation"][0]
    assert list(split.get_ydata()) == pytest.approx([4.0, 4.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ES\n64x64", "SS\n64x64"]
    plt.close(fig)


def test_the_latency_panel_reads_the_field_the_results_name():
    data = results()
    for entry in data["sizes"].values():
        for item in entry.values():
            if isinstance(item, dict) and "latency_paced" in item:
                item["latency"] = 2 * item["latency_paced"]
    data["latency"] = ("latency", "ms per image (communication + computation)")
    fig, ax = plt.subplots()
    pipeline_plots.latency_by_size(ax, data)
    assert ax.get_ylabel() == "ms per image (communication + computation)"
    assert ax.get_lines()[0].get_ydata()[0] == 2000 * data["sizes"]["128x128"]["monolith"]["latency_paced"]
    plt.close(fig)
