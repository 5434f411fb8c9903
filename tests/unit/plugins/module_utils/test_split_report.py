"""plugins/module_utils/split_report.py on real output: split-pull's JSON lines and jc_infer's result
lines captured by benchmarks/resnet_split_cpu_bench.py (tests/fixtures/pipeline/resnet_split_cpu/README.md),
then on broken and fuzzed input: a clear SplitReportError, never a traceback or a number the input
did not hold."""

import json
import math
import statistics
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils import split_report as sr

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "pipeline" / "resnet_split_cpu"
PULL = (FIXTURE / "split-pull.log").read_text()
INFER = (FIXTURE / "dataparallel.log").read_text()
RAW = [json.loads(line) for line in PULL.splitlines() if line.startswith("{")]


def test_every_captured_stream_parses_with_the_printed_numbers():
    reports = sr.parse_split_pull(PULL, "split-pull.log")
    assert len(reports) == len(RAW) >= 9
    for parsed, raw in zip(reports, RAW):
        assert parsed["fps"] == raw["fps"] and parsed["depth"] == raw["depth"] == len(raw["stages"])
        assert parsed["cut_bytes_per_image"] == raw["cut_bytes_per_image"]
        for stage, summary in zip(parsed["stages"], raw["stages"]):
            assert stage["stage"] == summary["stage"]
            assert stage["compute_ms"] == pytest.approx(1000 * summary["median_compute"] / raw["batch"])
            assert stage["transfer_ms"] == pytest.approx(
                1000 * (summary["median_recv"] + summary["median_send"]) / raw["batch"])
            assert stage["bytes_per_image"] == summary["bytes_per_image"]


def test_rows_are_medians_per_depth_and_the_table_puts_the_split_beside_data_parallelism():
    rows = sr.summarise(sr.parse_split_pull(PULL))
    assert [r["depth"] for r in rows] == sorted(set(r["depth"] for r in RAW))
    for row in rows:
        fps = [r["fps"] for r in RAW if r["depth"] == row["depth"]]
        assert row["fps"] == statistics.median(fps) and row["n"] == len(fps)
        assert row["fps_min"] == min(fps) and row["fps_max"] == max(fps)
        # 224 x 224 float16: stem 0.40 MB ... layer4 0.20 MB per image, plus the codec's header per batch.
        for cut, stage in zip(row["cut_bytes_per_image"], row["stages"]):
            assert cut == stage["bytes_per_image"] and 200704 <= cut <= 1605632 + 64
    infer = sr.summarise_infer(sr.parse_infer_runs(INFER))
    assert [r["containers"] for r in infer] == [1, 2] and all(r["n"] == 3 for r in infer)
    table = sr.markdown(rows, infer)
    assert "| data-parallel (jc_infer) | 2 |" in table and "| split, 2 stages | 2 |" in table
    two = [r for r in rows if r["depth"] == 2][0]
    assert "%.2f×" % (two["fps"] / infer[1]["fps"]) in table
    stage_rows = [line for line in table.splitlines() if line.startswith(("| 1 | ", "| 2 | ", "| 3 | "))]
    assert [line[2] for line in stage_rows] == ["1", "2", "2", "3", "3", "3"]


def test_data_parallel_runs_are_summed_over_their_containers():
    runs = sr.parse_infer_runs(INFER)
    lines = [json.loads(line) for line in INFER.splitlines() if line.startswith("{")]
    assert sum(r["containers"] for r in runs) == len(lines)
    assert sum(r["fps"] for r in runs) == pytest.approx(sum(x["throughput"] for x in lines))


def _line(mutate):
    data = json.loads(json.dumps(RAW[-1]))
    mutate(data)
    return json.dumps(data)


@pytest.mark.parametrize("text,message", [
    ("", "no split-pull report"),
    ("jc_pipeline split stage 0/2 listening\n", "no split-pull report"),
    ("jc_pipeline: pipeline failed: stage layer3-head: upstream x:50051 failed after 2 items", "the chain failed"),
    ("{not json", "not JSON"),
    ("{}", "not 'resnet_split'"),
    (_line(lambda d: d.update(fps=float("nan"))), "'fps' is nan"),
    (_line(lambda d: d.update(fps="12")), "not a number"),
    (_line(lambda d: d.update(fps=-1.0)), "not a positive finite number"),
    (_line(lambda d: d.update(fps=0)), "not a positive finite number"),
    (_line(lambda d: d.update(depth=d["depth"] + 1)), "stage summaries"),
    (_line(lambda d: d.update(cut_bytes_per_image=[])), "cut sizes"),
    (_line(lambda d: d["stages"][0].update(median_compute=-0.5)), "stage 0: 'median_compute'"),
    (_line(lambda d: d["stages"][-1].update(batch=99)), "the chain's is"),
    (_line(lambda d: d["stages"][0].pop("stage")), "no stage name"),
    (_line(lambda d: d.update(batch=True)), "'batch' is True"),
])
def test_bad_split_pull_output_is_a_clear_error(text, message):
    with pytest.raises(sr.SplitReportError, match="line|no split-pull") as caught:
        sr.parse_split_pull(text, "chain.log")
    assert message in str(caught.value)


@pytest.mark.parametrize("text,message", [
    ("", "no jc_infer result"),
    ('{"total_jobs": 2, "index": 0, "errors": 0, "throughput": 1.0}', "the last run has 1 of 2"),
    ('{"total_jobs": 2, "index": 0, "errors": 0, "throughput": 1.0}\n'
     '{"total_jobs": 2, "index": 0, "errors": 0, "throughput": 1.0}', "index 0 twice"),
    ('{"total_jobs": 1, "index": 1, "errors": 0, "throughput": 1.0}', "not 0..0"),
    ('{"total_jobs": 1, "index": 0, "errors": 3, "throughput": 1.0}', "3 errors"),
    ('{"total_jobs": 1, "index": 0, "errors": 0, "throughput": "inf"}', "not a number"),
    ('{"total_jobs": 2, "index": 0, "errors": 0, "throughput": 1.0}\n'
     '{"total_jobs": 1, "index": 0, "errors": 0, "throughput": 1.0}', "were all there"),
])
def test_bad_jc_infer_output_is_a_clear_error(text, message):
    with pytest.raises(sr.SplitReportError) as caught:
        sr.parse_infer_runs(text, "dataparallel.log")
    assert message in str(caught.value)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3), max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_is_a_split_report_error(text):
    for parse in (sr.parse_split_pull, sr.parse_infer_runs):
        try:
            parse(text)
        except sr.SplitReportError:
            pass


def _paths(data, prefix=()):
    if isinstance(data, dict):
        for key, value in data.items():
            yield prefix + (key,)
            yield from _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield prefix + (index,)
            yield from _paths(value, prefix + (index,))


PATHS = sorted(set(_paths(RAW[-1])), key=str)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PATHS), json_values)
def test_a_real_report_with_any_field_replaced_parses_to_its_own_numbers_or_fails_clearly(path, value):
    data = json.loads(json.dumps(RAW[-1]))
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    try:
        text = json.dumps(data)
    except ValueError:
        return
    try:
        [parsed] = sr.parse_split_pull(text)
    except sr.SplitReportError:
        return
    # What came through is what the line held: no number made up or inflated.
    assert parsed["fps"] == data["fps"] and math.isfinite(parsed["fps"]) and parsed["fps"] > 0
    assert parsed["bound_cpu_fps"] == data.get("bound_cpu_fps") and parsed["bound_fps"] == data.get("bound_fps")
    batch = data["batch"]
    for stage, summary in zip(parsed["stages"], data["stages"]):
        assert stage["compute_ms"] == pytest.approx(1000 * summary["median_compute"] / batch)
        assert stage["bytes_per_image"] == summary["bytes_per_image"]
