"""Behaviour of roles/gpu_workloads/files/jc_report.py (report.md and benchmark.png); pytest.ini
puts roles/gpu_workloads/files on sys.path."""

import json
import struct
from pathlib import Path

import jc_report
import pytest

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.benchmark import aggregate, aggregate_runs

ROOT = Path(__file__).resolve().parents[3]

BASELINE_PODS = [{"index": 0, "images": 1200, "seconds": 150.0, "errors": 0, "hostname": "worker1"}]
THREE_WAY_PODS = [
    {"index": 0, "images": 400, "seconds": 95.2, "errors": 0, "hostname": "worker1", "device": "cuda"},
    {"index": 1, "images": 400, "seconds": 97.8, "errors": 0, "hostname": "worker2", "device": "cuda"},
    {"index": 2, "images": 399, "seconds": 99.0, "errors": 1, "hostname": "worker3", "device": "cuda"},
]


def run_entry(workload, pods, baseline):
    summary = aggregate([dict(p) for p in pods], expected_jobs=len(pods), baseline=baseline)
    return {"workload": workload, "jobs": len(pods), "logs": "logs/%s-%d" % (workload, len(pods)),
            "aggregate": summary}


def reference_results():
    single = aggregate([dict(p) for p in BASELINE_PODS], expected_jobs=1)
    return {
        "version": 1,
        "created": "2026-11-23T10:00:00Z",
        "runner": "kubernetes",
        "image": "edgeai-jc/jc-infer:0.1.0",
        "image_id": "sha256:" + "ab" * 32,
        "workers": ["worker1", "worker2", "worker3"],
        "settings": {"BATCH_SIZE": "auto", "PRECISION": "auto"},
        "runs": [
            run_entry("synthetic", BASELINE_PODS, single),
            run_entry("synthetic", THREE_WAY_PODS, single),
            run_entry("files", BASELINE_PODS, single),
        ],
    }


@pytest.fixture
def results_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(reference_results()))
    return path


def table_rows(markdown, header_start):
    """The data rows of the first table whose header starts with header_start."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| " + header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_summary_table_shows_the_reference_numbers():
    rows = table_rows(jc_report.render_markdown(reference_results()), "nodes | images")
    assert rows[1] == ["3", "1199", "99.00", "12.1", "1.51", "0.50", "1.04", "1"]


def test_baseline_row_has_speedup_and_efficiency_one():
    rows = table_rows(jc_report.render_markdown(reference_results()), "nodes | images")
    assert rows[0][4:6] == ["1.00", "1.00"]


def test_every_workload_gets_its_own_section_in_run_order():
    markdown = jc_report.render_markdown(reference_results())
    sections = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert sections == ["## Workload I: synthetic tensors", "## Workload II: JPEG files"]


def test_per_pod_rows_name_host_and_time():
    rows = table_rows(jc_report.render_markdown(reference_results()), "nodes | index")
    assert rows[3] == ["3", "2", "worker3", "399", "1", "99.00", "4.0", "-", "cuda"]


def test_report_names_runner_image_and_workers():
    markdown = jc_report.render_markdown(reference_results())
    assert "- Runner: kubernetes; workers: worker1, worker2, worker3" in markdown
    assert "- Image: edgeai-jc/jc-infer:0.1.0 (sha256:abababababab)" in markdown


@pytest.mark.parametrize(
    "key, expected",
    [
        ("nodes", [1, 3]),
        ("speedup", [1.0, pytest.approx(1199 / 99.0 / 8.0)]),
        ("ideal", [1.0, 3.0]),
        ("bars", [("1:#0", 150.0), ("3:#0", 95.2), ("3:#1", 97.8), ("3:#2", 99.0)]),
    ],
)
def test_plot_series_of_the_synthetic_workload(key, expected):
    assert jc_report.plot_series(reference_results())["synthetic"][key] == expected


def test_plot_series_are_sorted_by_nodes_whatever_the_run_order():
    results = reference_results()
    results["runs"] = list(reversed(results["runs"]))
    assert jc_report.plot_series(results)["synthetic"]["nodes"] == [1, 3]


def test_main_writes_the_report_and_a_png(tmp_path, results_file, capsys):
    assert jc_report.main([str(results_file), "--out", str(tmp_path)]) == 0
    png = (tmp_path / "benchmark.png").read_bytes()
    width, height = struct.unpack(">II", png[16:24])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (width, height) == (1600, 720)  # three plots a row: scaling, per-pod phases, time to result
    assert (tmp_path / "report.md").read_text().startswith("# Inference benchmark")
    assert json.loads(capsys.readouterr().out)["changed"] is True


def test_second_run_on_the_same_results_changes_nothing(tmp_path, results_file, capsys):
    jc_report.main([str(results_file), "--out", str(tmp_path)])
    capsys.readouterr()
    jc_report.main([str(results_file), "--out", str(tmp_path)])
    assert json.loads(capsys.readouterr().out)["changed"] is False


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "is not valid JSON"),
        (json.dumps({"version": 2, "runs": []}), "is not a version 1 benchmark result"),
        (json.dumps({"version": 1, "runs": []}), "holds no runs"),
        (json.dumps({"version": 1, "runs": [{"workload": "files", "jobs": 1}]}), "run 0 lacks 'aggregate'"),
    ],
    ids=["not-json", "wrong-version", "no-runs", "run-without-aggregate"],
)
def test_bad_results_exit_2_with_a_message(tmp_path, capsys, content, message):
    path = tmp_path / "results.json"
    path.write_text(content)
    assert jc_report.main([str(path), "--out", str(tmp_path)]) == 2
    assert message in json.loads(capsys.readouterr().out)["error"]


# --- a results.json written by playbooks/benchmark.yml in the container lab (Docker runner, CPU)

LAB_RESULTS = ROOT / "tests" / "fixtures" / "benchmark_report" / "lab-docker-cpu.json"


def test_lab_results_render_one_row_per_run():
    markdown = jc_report.render_markdown(jc_report.load_results(str(LAB_RESULTS)))
    assert table_rows(markdown, "nodes | images") == [
        ["1", "64", "3.42", "18.7", "1.00", "1.00", "1.00", "0"],
        ["2", "64", "4.14", "15.5", "0.83", "0.41", "1.15", "0"],
    ]


def test_lab_results_plot_both_workers_pods():
    bars = jc_report.plot_series(jc_report.load_results(str(LAB_RESULTS)))["files"]["bars"]
    assert [label for label, _ in bars] == ["1:#0", "2:#0", "2:#1"]


# --- workers that share one machine's CPUs (the lab) -----------------------------------------

# Captured in this project's lab host: two containers of one Docker host (cgroup v1, no quota,
# `cat /proc/sys/kernel/random/boot_id; nproc; cat .../cpu.cfs_quota_us`), as tasks/host_sharing.yml reads them.
LAB_BOOT_ID = "b55a76cf-8b76-4e63-ac18-40042a669be5"
LAB_SHARING = {"workers": ["worker1", "worker2"], "probes": [[LAB_BOOT_ID, "2", "-1"], [LAB_BOOT_ID, "2", "-1"]],
               "controller_boot_id": LAB_BOOT_ID}


def lab_results(sharing=LAB_SHARING):
    results = jc_report.load_results(str(LAB_RESULTS))
    results["host_sharing"] = sharing
    return results


def test_workers_on_one_kernel_are_reported_as_sharing_its_cpus():
    sharing = jc_report.host_sharing(lab_results())
    assert sharing["groups"] == [["worker1", "worker2"]] and sharing["with_controller"] is True
    assert sharing["cpus"] == {"worker1": 2, "worker2": 2} and sharing["quota"] == {"worker1": None, "worker2": None}


def test_report_says_what_shared_cpus_do_and_do_not_show():
    markdown = jc_report.render_markdown(lab_results())
    assert "## The workers share one machine's CPUs" in markdown
    assert "**worker1, worker2 run on one kernel**" in markdown and "2 CPU(s)" in markdown
    assert "no CPU quota" in markdown
    assert "What the numbers show:" in markdown and "What they do not show: how the cluster scales" in markdown


def test_summary_line_warns_when_cpus_are_shared():
    line = jc_report.summary_line(lab_results())
    assert line.startswith("synthetic x1 ") and "(speedup " in line
    assert line.endswith("so the speedup does not measure scaling (see the report)")


def test_separate_machines_get_one_line_and_no_warning():
    sharing = {"workers": ["worker1", "worker2"],
               "probes": [["0f6a0e1c-1111-4c39-9a0e-1b2b3c4d5e6f", "4", "max 100000"],
                          ["7d2f4c3b-2222-4c39-9a0e-1b2b3c4d5e6f", "4", "max 100000"]]}
    markdown = jc_report.render_markdown(lab_results(sharing))
    assert "- Workers: separate machines (each reports its own kernel boot ID); CPUs: worker1 4, worker2 4." in markdown
    assert "share one machine" not in markdown and "share one machine" not in jc_report.summary_line(lab_results(sharing))


def test_unknown_hosts_add_nothing():
    sharing = {"workers": ["worker1", "worker2"], "probes": [[], ["garbage"]]}
    assert jc_report.host_sharing_lines(lab_results(sharing)) == []
    assert "host_sharing" not in jc_report.load_results(str(LAB_RESULTS))  # results.json of before still renders


@pytest.mark.parametrize("text, expected", [
    ("max 100000", None), ("150000 100000", 1.5), ("-1", None), ("200000", 2.0), ("unknown", None), ("", None),
])
def test_cpu_quota(text, expected):
    assert jc_report._cpu_quota(text) == expected


def test_a_cgroup_quota_is_named():
    sharing = {"workers": ["w1", "w2"], "probes": [[LAB_BOOT_ID, "2", "150000 100000"]] * 2}
    assert "a cgroup CPU quota of 1.5 CPUs" in "\n".join(jc_report.host_sharing_lines(lab_results(sharing)))


def test_report_renders_what_benchmark_aggregate_runs_returns():
    runs = aggregate_runs([{"workload": "synthetic", "jobs": 1, "results": BASELINE_PODS},
                           {"workload": "synthetic", "jobs": 3, "results": THREE_WAY_PODS}])
    results = dict(reference_results(), runs=runs)
    rows = table_rows(jc_report.render_markdown(results), "nodes | images")
    assert [row[:2] for row in rows] == [["1", "1200"], ["3", "1199"]]


# --- time to result (issue 15) ---------------------------------------------------------------

def timed_pod(index, seconds, startup, warmup, other=0.05, images=600):
    """A per-pod result as jc_infer writes it since issue 15 (only the fields the report reads)."""
    return {"index": index, "images": images, "seconds": seconds, "errors": 0, "hostname": "worker%d" % (index + 1),
            "startup_seconds": startup, "warmup_seconds": warmup,
            "process_seconds": startup + warmup + seconds + other,
            "fixed": {"startup": startup, "warmup": warmup, "other": other}}


def timed_results():
    one = [timed_pod(0, 14.0, 4.0, 0.8, images=1200)]
    two = [timed_pod(0, 7.2, 4.5, 0.9), timed_pod(1, 7.4, 5.0, 0.8)]
    single = aggregate([dict(p) for p in one], expected_jobs=1)
    results = reference_results()
    results["runs"] = [run_entry("files", one, single), run_entry("files", two, single)]
    return results


def test_time_to_result_is_the_slowest_pods_age_at_its_result_line():
    data = jc_report.time_to_result_series(timed_results())["files"]
    assert [n for n, _ in data["jobs"]] == [1, 2]
    assert data["jobs"][0][1] == pytest.approx(4.0 + 0.8 + 14.0 + 0.05)
    assert data["jobs"][1][1] == pytest.approx(5.0 + 0.8 + 7.4 + 0.05)  # pod 1: the later result line
    label, phases = data["pods"][2]
    assert label == "2:#1" and phases == {"startup": 5.0, "warmup": 0.8, "window": 7.4, "other": 0.05,
                                          "to_result": pytest.approx(13.25)}


def test_report_has_a_time_to_result_table_against_the_first_row():
    rows = table_rows(jc_report.render_markdown(timed_results()), "workload | nodes")
    assert rows == [["Workload II: JPEG files", "1", "18.85", "1.00"],
                    ["Workload II: JPEG files", "2", "13.25", "1.42"]]


def test_pods_without_start_up_fields_say_so_instead_of_a_table():
    markdown = jc_report.render_markdown(reference_results())
    assert "Time to result: not reported by these pods" in markdown
    data = jc_report.time_to_result_series(reference_results())["synthetic"]
    assert data["jobs"] == [(1, None), (3, None)]
    assert data["pods"][0][1]["startup"] is None and data["pods"][0][1]["window"] == 150.0


def test_the_png_with_time_to_result_is_written(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(timed_results()))
    assert jc_report.main([str(path), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "benchmark.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
