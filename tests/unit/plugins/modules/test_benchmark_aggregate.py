"""The benchmark_aggregate module shell: options in, module_utils summary or a clear failure out."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.edgeai.jetson_cluster.plugins.modules import benchmark_aggregate

REFERENCE_PODS = [
    {"index": 0, "images": 400, "seconds": 95.2},
    {"index": 1, "images": 400, "seconds": 97.8},
    {"index": 2, "images": 400, "seconds": 99.0},
]


def run_module(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        benchmark_aggregate.main()
    result = json.loads(capsys.readouterr().out)
    result["rc"] = exit_info.value.code
    return result


def test_reference_numbers_through_the_module(capsys):
    result = run_module(capsys, results=REFERENCE_PODS, expected_jobs=3, baseline={"images": 1200, "seconds": 150})
    assert (round(result["throughput"], 1), round(result["speedup"], 2), round(result["efficiency"], 2)) == (12.1, 1.52, 0.51)


def test_module_reports_no_change(capsys):
    assert run_module(capsys, results=REFERENCE_PODS)["changed"] is False


def test_module_reads_a_log_directory(capsys, tmp_path):
    for entry in REFERENCE_PODS:
        (tmp_path / ("pod-%d.log" % entry["index"])).write_text("warming up\n" + json.dumps(entry) + "\n")
    result = run_module(capsys, src=str(tmp_path), expected_jobs=3)
    assert (result["images"], result["makespan_seconds"]) == (1200, 99.0)


def test_bad_input_fails_with_the_pods_name(capsys):
    result = run_module(capsys, results=[{"index": 1, "images": 0, "seconds": 4.0, "hostname": "worker2"}])
    assert result["failed"] is True and result["msg"].startswith("pod index 1 (worker2): reports 4.000 s for zero images")


@pytest.mark.parametrize(
    "args, message",
    [
        ({}, "one of the following is required: results, src, runs"),
        ({"results": REFERENCE_PODS, "src": "/tmp"}, "parameters are mutually exclusive: results|src|runs"),
        ({"runs": [{"workload": "w", "jobs": 1, "results": REFERENCE_PODS[:1]}], "expected_jobs": 1},
         "parameters are mutually exclusive: runs|expected_jobs"),
    ],
    ids=["neither", "both", "runs-with-expected-jobs"],
)
def test_source_options_are_exclusive_and_required(capsys, args, message):
    result = run_module(capsys, **args)
    assert result["failed"] is True and message in result["msg"]


def test_a_job_index_reported_twice_is_refused_not_summed(capsys, tmp_path):
    # Issue 16: pod 0 retried, both logs collected. Summing them gave 1,200 images and 12.1 img/s
    # where the run did 800 and 8.1; no number of such a run may be published.
    logs = {"pod-0.log": REFERENCE_PODS[0], "pod-0-retry.log": dict(REFERENCE_PODS[2], index=0),
            "pod-1.log": REFERENCE_PODS[1]}
    for name, entry in logs.items():
        (tmp_path / name).write_text("warming up\n" + json.dumps(entry) + "\n")
    result = run_module(capsys, src=str(tmp_path), expected_jobs=2, baseline={"images": 900, "seconds": 150})
    assert result["failed"] is True
    assert result["msg"].startswith("job index 0 reported 2 times: ")
    assert "%s:2" % (tmp_path / "pod-0.log") in result["msg"] and "%s:2" % (tmp_path / "pod-0-retry.log") in result["msg"]
    assert not {"images", "throughput", "speedup"} & set(result)


def test_module_aggregates_every_run_at_once(capsys):
    result = run_module(capsys, runs=[
        {"workload": "synthetic", "jobs": 1, "results": [{"index": 0, "images": 1200, "seconds": 150.0}]},
        {"workload": "synthetic", "jobs": 3, "results": REFERENCE_PODS, "logs": "logs/synthetic-3"}])
    assert result["rc"] == 0 and "throughput" not in result
    assert [(r["jobs"], r.get("logs"), round(r["aggregate"]["speedup"], 2)) for r in result["runs"]] == [
        (1, None, 1.0), (3, "logs/synthetic-3", 1.52)]


def test_module_fails_naming_the_run(capsys):
    result = run_module(capsys, runs=[{"workload": "files", "jobs": 3, "results": REFERENCE_PODS[:2]}])
    assert result["failed"] is True and result["msg"] == "files x3: no result from job index(es) 2"
