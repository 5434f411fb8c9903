"""Behaviour of plugins/module_utils/benchmark.py (benchmark_aggregate's logic)."""

import json
from pathlib import Path

import pytest

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.benchmark import (
    BenchmarkError,
    aggregate,
    baseline_throughput,
    normalize_result,
    parse_log,
    read_src,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "benchmark"

# The reference build: 1200 images in 150 s on one Jetson Nano; 3 pods of 400, the slowest 99 s.
REFERENCE_PODS = [
    {"index": 0, "images": 400, "seconds": 95.2, "errors": 0},
    {"index": 1, "images": 400, "seconds": 97.8, "errors": 0},
    {"index": 2, "images": 400, "seconds": 99.0, "errors": 0},
]
REFERENCE_BASELINE = {"images": 1200, "seconds": 150.0}


def pod(index, images=100, seconds=10.0, **extra):
    result = {"index": index, "images": images, "seconds": seconds}
    result.update(extra)
    return result


# --- the reference numbers ----------------------------------------------------------------

def test_reference_run_gives_the_reference_throughput():
    assert aggregate(REFERENCE_PODS, expected_jobs=3)["throughput"] == pytest.approx(12.12, abs=0.01)


def test_reference_run_gives_the_reference_speedup():
    assert aggregate(REFERENCE_PODS, 3, REFERENCE_BASELINE)["speedup"] == pytest.approx(1.52, abs=0.01)


def test_reference_run_gives_the_reference_efficiency():
    assert aggregate(REFERENCE_PODS, 3, REFERENCE_BASELINE)["efficiency"] == pytest.approx(0.51, abs=0.01)


def test_makespan_is_the_slowest_pod():
    assert aggregate(REFERENCE_PODS)["makespan_seconds"] == 99.0


def test_imbalance_is_slowest_over_fastest():
    assert aggregate(REFERENCE_PODS)["imbalance"] == pytest.approx(99.0 / 95.2)


# --- totals, ordering, completeness -------------------------------------------------------

@pytest.mark.parametrize(
    "pods, images, errors",
    [
        ([pod(0, 10, 1.0)], 10, 0),
        ([pod(0, 10, 1.0, errors=2), pod(1, 5, 1.0, errors=1)], 15, 3),
        ([pod(0, 10, 1.0, errors=None), pod(1, 0, 0.0)], 10, 0),
    ],
    ids=["one-pod", "sums-images-and-errors", "null-errors-and-empty-partition"],
)
def test_totals(pods, images, errors):
    summary = aggregate(pods)
    assert (summary["images"], summary["errors"]) == (images, errors)


def test_per_pod_is_sorted_by_index():
    summary = aggregate([pod(2), pod(0), pod(1)])
    assert [p["index"] for p in summary["per_pod"]] == [0, 1, 2]


def test_per_pod_keeps_the_workloads_extra_keys_and_own_throughput():
    summary = aggregate([pod(0, 50, 5.0, hostname="worker1", device="cuda", precision="fp16")])
    row = summary["per_pod"][0]
    assert (row["hostname"], row["device"], row["precision"], row["throughput"]) == ("worker1", "cuda", "fp16", 10.0)


@pytest.mark.parametrize(
    "pods, expected_jobs, missing, duplicate",
    [
        ([pod(0), pod(1), pod(2)], 3, [], []),
        ([pod(0), pod(2)], 3, [1], []),
        ([pod(1, total_jobs=4), pod(3, total_jobs=4)], None, [0, 2], []),
        ([pod(0), pod(3)], None, [1, 2], []),
    ],
    ids=["complete", "one-missing", "missing-from-total-jobs", "missing-from-highest-index"],
)
def test_missing_and_duplicate_indices(pods, expected_jobs, missing, duplicate):
    summary = aggregate(pods, expected_jobs=expected_jobs)
    assert (summary["missing_indices"], summary["duplicate_indices"]) == (missing, duplicate)


def test_pods_counts_the_indices_that_reported():
    assert aggregate([pod(0), pod(2)], expected_jobs=3)["pods"] == 2


def test_empty_partitions_do_not_count_as_fastest_pod():
    summary = aggregate([pod(0, 10, 2.0), pod(1, 10, 4.0), pod(2, 0, 0.0)], expected_jobs=3)
    assert summary["imbalance"] == 2.0


def test_longest_warmup_is_reported():
    assert aggregate([pod(0, warmup_seconds=1.5), pod(1, warmup_seconds=3.0)])["max_warmup_seconds"] == 3.0


def test_no_speedup_without_baseline():
    assert "speedup" not in aggregate([pod(0)])


# --- baselines ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "baseline, expected",
    [
        ({"images": 1200, "seconds": 150}, 8.0),
        ({"images": 1200, "makespan_seconds": 150.0, "throughput": 99.0}, 8.0),
        ({"throughput": 8.0}, 8.0),
    ],
    ids=["images-and-seconds", "previous-aggregate", "throughput-only"],
)
def test_baseline_throughput(baseline, expected):
    assert baseline_throughput(baseline) == expected


def test_a_previous_aggregate_is_a_baseline():
    single = aggregate([pod(0, 1200, 150.0)], expected_jobs=1)
    assert aggregate(REFERENCE_PODS, 3, single)["speedup"] == pytest.approx(1.515, abs=0.001)


def test_a_run_against_itself_has_speedup_one():
    single = aggregate([pod(0, 1200, 150.0)], expected_jobs=1)
    again = aggregate([pod(0, 1200, 150.0)], 1, single)
    assert (again["speedup"], again["efficiency"]) == (1.0, 1.0)


@pytest.mark.parametrize(
    "baseline, message",
    [
        ({"images": 0, "seconds": 150}, "images must be a positive number"),
        ({"images": 100, "seconds": -1}, "seconds must be a positive number"),
        ({"throughput": 0}, "throughput must be a positive number"),
        ({"pods": 1}, "got keys: pods"),
        ([1, 2], "baseline must be a mapping"),
    ],
    ids=["no-images", "negative-seconds", "zero-throughput", "no-usable-keys", "not-a-mapping"],
)
def test_bad_baseline_is_refused(baseline, message):
    with pytest.raises(BenchmarkError, match=message):
        baseline_throughput(baseline)


# --- bad per-pod input --------------------------------------------------------------------

@pytest.mark.parametrize(
    "result, message",
    [
        (pod(1, 100, -3.0), r"pod index 1: seconds must be a non-negative number, got -3\.0"),
        (pod(1, 0, 12.5), r"pod index 1: reports 12\.500 s for zero images"),
        (pod(1, 50, 0.0), r"pod index 1: reports 50 images in zero seconds"),
        (pod(1, -5, 1.0), r"pod index 1: images must be a non-negative integer"),
        (pod(1, 2.5, 1.0), r"pod index 1: images must be a non-negative integer"),
        (pod(1, True, 1.0), r"pod index 1: images must be a non-negative integer"),
        (pod(1, 10, float("nan")), r"pod index 1: seconds must be a non-negative number"),
        (pod(1, 10, "9.5"), r"pod index 1: seconds must be a non-negative number"),
        (pod(1, errors=-1), r"pod index 1: errors must be a non-negative integer"),
        (pod(1, warmup_seconds=-0.1), r"pod index 1: warmup_seconds must be a non-negative number"),
        (pod(-1), r"pod index -1: index must be a non-negative integer"),
        (pod(3, total_jobs=3), r"pod index 3: index 3 is not below its total_jobs 3"),
        ({"error": "IMAGE_DIR=/data/images does not exist", "images": 0, "errors": 0},
         r"pod with no index: the workload failed: IMAGE_DIR=/data/images does not exist"),
        ({"index": 2, "images": 10, "hostname": "worker2"}, r"pod index 2 \(worker2\): missing key\(s\) seconds"),
        ({"images": 10, "seconds": 1.0}, r"pod with no index: missing key\(s\) index"),
        ("just text", r"result must be a mapping"),
    ],
    ids=["negative-time", "time-without-images", "images-without-time", "negative-images", "fractional-images",
         "boolean-images", "nan-seconds", "string-seconds", "negative-errors", "negative-warmup",
         "negative-index", "index-beyond-total", "settings-error-report", "missing-seconds", "missing-index", "not-a-mapping"],
)
def test_bad_result_is_refused_naming_the_pod(result, message):
    with pytest.raises(BenchmarkError, match=message):
        normalize_result(result)


def test_workload_failure_report_is_raised_with_its_message():
    line = '{"error": "RuntimeError: CUDA out of memory", "images": 0, "errors": 0, "index": 2}'
    with pytest.raises(BenchmarkError, match=r"pod index 2 \(w3\.log:2\): the workload failed: RuntimeError: CUDA out"):
        aggregate(parse_log("loading\n" + line + "\n", source="w3.log"))


def test_error_names_the_log_the_pod_came_from():
    with pytest.raises(BenchmarkError, match=r"pod index 0 \(worker1, logs/a\.log:3\)"):
        aggregate([pod(0, 10, -1.0, hostname="worker1", source="logs/a.log:3")])


def test_zero_images_in_zero_seconds_is_an_empty_partition():
    assert normalize_result(pod(4, 0, 0.0))["throughput"] == 0.0


@pytest.mark.parametrize(
    "pods, expected_jobs, message",
    [
        ([], None, "no results to aggregate"),
        ([pod(0, 0, 0.0), pod(1, 0, 0.0)], None, "no pod processed any image"),
        ([pod(0, total_jobs=2), pod(1, total_jobs=3)], None, r"pods disagree on total_jobs \(2, 3\)"),
        ([pod(0, total_jobs=2)], 3, "reports total_jobs=2 but expected_jobs is 3"),
        ([pod(0), pod(3)], 3, r"pod index 3 is outside 0\.\.2 for 3 jobs"),
        ([pod(0)], 0, "expected_jobs must be a positive integer"),
    ],
    ids=["nothing", "all-empty", "mixed-runs", "wrong-total", "index-out-of-range", "zero-jobs"],
)
def test_bad_run_is_refused(pods, expected_jobs, message):
    with pytest.raises(BenchmarkError, match=message):
        aggregate(pods, expected_jobs=expected_jobs)


def test_results_must_be_a_list():
    with pytest.raises(BenchmarkError, match="results must be a list"):
        aggregate({"index": 0})


# --- parsing logs -------------------------------------------------------------------------

MIXED_LOG = """\
loading ResNet-50 (random weights) on cpu
{"level": "info", "msg": "structured log line from someone else"}
warm-up: 2 batches in 3.1 s
[0] 32/64 images
{"index": 1, "total_jobs": 2, "images": 64, "errors": 0, "seconds": 7.5, "warmup_seconds": 3.1, "hostname": "w2"}
"""


def test_result_line_is_found_among_other_lines():
    results = parse_log(MIXED_LOG, source="pod-1.log")
    assert [(r["index"], r["images"], r["hostname"]) for r in results] == [(1, 64, "w2")]


def test_parsed_result_remembers_its_log_line():
    assert parse_log(MIXED_LOG, source="pod-1.log")[0]["source"] == "pod-1.log:5"


@pytest.mark.parametrize(
    "text, message",
    [
        ("starting\n{\"index\": 0, \"images\": 4, \"seconds\": 1.0\n", r"pod\.log line 2: a JSON result line is not valid JSON"),
        ("starting\nTraceback (most recent call last):\n  boom\nRuntimeError: CUDA out of memory\n",
         r"pod\.log: no workload result .*RuntimeError: CUDA out of memory"),
        ("", r"pod\.log: no workload result .*\(empty log\)"),
        ('{"level": "info"}\n', "pod.log: no workload result"),
    ],
    ids=["truncated-json", "crash-traceback", "empty", "only-foreign-json"],
)
def test_bad_log_is_refused_naming_it(text, message):
    with pytest.raises(BenchmarkError, match=message):
        parse_log(text, source="pod.log")


def test_log_texts_can_be_given_as_results():
    summary = aggregate([MIXED_LOG, MIXED_LOG.replace('"index": 1', '"index": 0')], expected_jobs=2)
    assert (summary["images"], summary["missing_indices"]) == (128, [])


def test_result_line_missing_a_key_names_the_log():
    with pytest.raises(BenchmarkError, match=r"pod index 0 \(results\[0\]:1\): missing key\(s\) seconds"):
        aggregate(['{"index": 0, "images": 4}'])


def test_read_src_reads_every_log_of_a_directory(tmp_path):
    for index in range(3):
        (tmp_path / ("pod-%d.log" % index)).write_text(
            "progress\n" + json.dumps(pod(index, total_jobs=3)) + "\n")
    (tmp_path / ".hidden").write_text("not a log")
    assert sorted(r["index"] for r in read_src(str(tmp_path))) == [0, 1, 2]


def test_read_src_reads_one_file(tmp_path):
    log = tmp_path / "all.log"
    log.write_text(json.dumps(pod(0)) + "\nnoise\n" + json.dumps(pod(1)) + "\n")
    assert [r["index"] for r in read_src(str(log))] == [0, 1]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "absent", "no such file or directory"),
        (lambda d: d, "the directory holds no log files"),
    ],
    ids=["absent", "empty-directory"],
)
def test_read_src_refuses(tmp_path, make, message):
    with pytest.raises(BenchmarkError, match=message):
        read_src(str(make(tmp_path)))


def test_read_src_names_the_file_without_a_result(tmp_path):
    (tmp_path / "pod-0.log").write_text(json.dumps(pod(0)) + "\n")
    (tmp_path / "pod-1.log").write_text("Killed\n")
    with pytest.raises(BenchmarkError, match=r"pod-1\.log: no workload result .*Killed"):
        read_src(str(tmp_path))


# --- captured logs of real runs (tests/fixtures/benchmark/) -------------------------------

CAPTURED_RUNS = sorted(path for path in FIXTURES.glob("*") if path.is_dir())


@pytest.mark.parametrize("run_dir", CAPTURED_RUNS, ids=lambda p: p.name)
def test_captured_run_aggregates_completely(run_dir):
    expected = json.loads((run_dir / "expected.json").read_text())
    summary = aggregate(read_src(str(run_dir / "logs")), expected_jobs=expected["expected_jobs"])
    assert {key: summary[key] for key in expected} == expected


@pytest.mark.parametrize(
    "pods, message",
    [
        ([pod(0), pod(1), pod(1)], "job index 1 reported 2 times: "),
        ([pod(0), pod(0), pod(1), pod(1), pod(1)],
         "job indices 0, 1 reported more than once (0: 2 times, 1: 3 times): "),
    ],
    ids=["one-index-twice", "two-indices"],
)
def test_a_job_index_reported_more_than_once_is_refused(pods, message):
    with pytest.raises(BenchmarkError) as error:
        aggregate(pods, expected_jobs=2)
    assert str(error.value).startswith(message)
    assert "would inflate" in str(error.value)


def test_the_refusal_names_where_each_duplicate_came_from():
    pods = [pod(0, source="logs/a.log:3", hostname="worker1"), pod(0, source="logs/b.log:7", hostname="worker2")]
    with pytest.raises(BenchmarkError, match=r"pod index 0 \(worker1, logs/a.log:3\); pod index 0 \(worker2, logs/b.log:7\)"):
        aggregate(pods)
