"""Fuzzing plugins/module_utils/benchmark.py (benchmark_aggregate's parser and arithmetic) with
Hypothesis: the workload's real pod logs of tests/fixtures/benchmark mutated line by line, byte
by byte and value by value. Whatever comes in, the result is well formed and its numbers are
finite and consistent, or BenchmarkError says what is wrong; never another exception."""

import json
import math
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from fuzz_strategies import mutated_bytes, mutated_json, mutated_text

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.benchmark import (
    BenchmarkError,
    aggregate,
    parse_log,
    read_src,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "benchmark"
LOGS = {str(path.relative_to(FIXTURES)): path.read_bytes() for path in sorted(FIXTURES.glob("*/logs/*"))}
RUNS = {run.name: [path.read_bytes().decode("utf-8") for path in sorted((run / "logs").iterdir())]
        for run in sorted(FIXTURES.iterdir()) if (run / "logs").is_dir()}
RESULTS = [json.loads(line) for text in LOGS.values() for line in text.decode("utf-8").splitlines()
           if line.startswith("{")]


def check_summary(summary):
    for key in ("makespan_seconds", "fastest_seconds", "throughput", "imbalance"):
        assert isinstance(summary[key], float) and math.isfinite(summary[key]) and summary[key] > 0, key
    assert summary["images"] == sum(pod["images"] for pod in summary["per_pod"]) > 0
    assert summary["duplicate_indices"] == []
    assert summary["pods"] == len(summary["per_pod"])
    assert summary["throughput"] == summary["images"] / summary["makespan_seconds"]
    for key in ("speedup", "efficiency", "baseline_throughput"):
        if key in summary:
            assert math.isfinite(summary[key]) and summary[key] > 0, key


def aggregate_or_clear_error(results, **kwargs):
    try:
        summary = aggregate(results, **kwargs)
    except BenchmarkError as exc:
        assert str(exc).strip()
        return None
    check_summary(summary)
    return summary


@given(st.sampled_from(sorted(LOGS)).flatmap(lambda name: mutated_text(LOGS[name].decode("utf-8"))))
# Found by this test: a number too large for a float raised OverflowError.
@example('{"index": 0, "images": 20, "seconds": 1%s}' % ("0" * 400))
@example('{"index": 0, "images": 1%s, "seconds": 2.5}' % ("0" * 400))
def test_mutated_log_lines(text):
    try:
        results = parse_log(text, source="fuzz.log")
    except BenchmarkError as exc:
        assert str(exc).startswith("fuzz.log")
        return
    assert results and all(isinstance(result, dict) for result in results)
    aggregate_or_clear_error([text])


@given(st.sampled_from(sorted(RUNS)).flatmap(
    lambda name: st.tuples(*[mutated_text(text) for text in RUNS[name]])))
def test_mutated_logs_of_a_whole_run(texts):
    aggregate_or_clear_error(list(texts))


@given(st.sampled_from(sorted(LOGS)).flatmap(lambda name: mutated_bytes(LOGS[name])))
def test_mutated_log_bytes_read_from_a_file(tmp_path_factory, data):
    log = tmp_path_factory.mktemp("logs") / "pod.log"
    log.write_bytes(data)
    try:
        results = read_src(str(log))
    except BenchmarkError as exc:
        assert str(exc).startswith(str(log))
        return
    aggregate_or_clear_error(results)


@given(st.lists(st.sampled_from(RESULTS).flatmap(mutated_json), min_size=1, max_size=4),
       st.one_of(st.none(), st.integers(-2, 5)),
       st.one_of(st.none(), st.sampled_from(RESULTS).flatmap(mutated_json)))
@example([{"index": 0, "images": 10 ** 12, "seconds": 1.0}], None, {"throughput": 5e-324})
def test_mutated_result_values(results, expected_jobs, baseline):
    aggregate_or_clear_error(results, expected_jobs=expected_jobs,
                             baseline=baseline if isinstance(baseline, dict) or baseline is None else {"x": 1})


@given(st.lists(st.sampled_from(RESULTS), min_size=2, max_size=5))
def test_a_run_with_an_index_twice_never_gives_numbers(results):
    indices = [result["index"] for result in results]
    summary = aggregate_or_clear_error(results)
    if len(set(indices)) < len(indices):
        assert summary is None
