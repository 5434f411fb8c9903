"""Workload III in the gpu_workloads report (jc_report.py): the Docker matrix's files in
<report>/pipeline/ (a real run, tests/fixtures/pipeline/docker_matrix/README.md) become a section with
the per-run table, the by-size table, the shared-CPU explanation, and pipeline.png."""

import json
import re
import shutil
from pathlib import Path

import jc_report
import pytest

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils import pipeline_matrix as pm

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "pipeline" / "docker_matrix"


@pytest.fixture
def report_dir(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "pipeline")
    (tmp_path / "results.json").write_text(json.dumps({"version": 1, "created": "2026-11-30T16:20:00Z", "runs": []}))
    return tmp_path


def test_the_real_run_loads_as_one_row_per_placement_and_size(report_dir):
    pipeline = jc_report.load_pipeline(str(report_dir))
    # 12 placements (SS..EE, SSS..EEE, SSSS..EEEE) at 2 sizes, one repeat, plus 2 sizes x 2 monoliths.
    assert len(pipeline["rows"]) == 24 and len(pipeline["runs"]) == 24 + 4
    placements = sorted(set(row["placement"] for row in pipeline["rows"]))
    assert placements == sorted(p for d in (2, 3, 4) for p in pm.placements_for(d))
    ssss = [r for r in pipeline["rows"] if r["placement"] == "SSSS" and r["size"] == "256x256"][0]
    sink = [json.loads(line) for line in (FIXTURE / "chain-SSSS.log").read_text().splitlines()
            if line.startswith("{")][1]
    assert ssss["fps"] == sink["fps"] and ssss["communication"] == sink["communication_median"]
    assert ssss["hosts"] == ["master"] * 4 and ssss["monolith_node"] == "S"
    assert sorted(pipeline["by_size"]) == ["128x128", "256x256"]


def test_the_section_has_both_tables_and_names_the_plot(report_dir):
    pipeline = jc_report.load_pipeline(str(report_dir))
    lines = "\n".join(jc_report.pipeline_lines(pipeline))
    assert "## Workload III" in lines
    assert "| 256x256 | 4 | EESS | worker1,worker2,master,master |" in lines
    assert lines.count("| 128x128 | ") == 12 + 3  # every run, then one row per depth by size
    assert "![workload III" in lines and "pipeline.png" in lines


def test_hosts_on_one_kernel_get_the_shared_cpu_rule_of_workloads_i_and_ii(report_dir):
    pipeline = jc_report.load_pipeline(str(report_dir))
    sharing = jc_report.pipeline_sharing(pipeline)
    assert sharing["groups"] == [["master", "worker1", "worker2"]]
    text = "\n".join(jc_report.pipeline_lines(pipeline))
    assert "share one machine's CPUs" in text and "min(d, 2)" in text


def test_hosts_of_their_own_get_no_warning(report_dir):
    plan = json.loads((report_dir / "pipeline" / "plan.json").read_text())
    plan["host_sharing"]["probes"] = [["%08d-boot" % i, "8", "max 100000"] for i in range(3)]
    (report_dir / "pipeline" / "plan.json").write_text(json.dumps(plan))
    text = "\n".join(jc_report.pipeline_lines(jc_report.load_pipeline(str(report_dir))))
    assert "share one machine's CPUs" not in text and "separate machines" in text


def test_main_writes_the_section_and_pipeline_png_without_runs_of_workloads_i_and_ii(report_dir, capsys):
    assert jc_report.main([str(report_dir / "results.json"), "--out", str(report_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["changed"] and out["files"] == [str(report_dir / "report.md"), str(report_dir / "pipeline.png")]
    assert out["summary"].startswith("pipeline matrix: 28 runs, best at 256x256")
    report = (report_dir / "report.md").read_text()
    assert "Workloads I and II were not run" in report and "## Workload III" in report
    assert (report_dir / "pipeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (report_dir / "benchmark.png").exists()
    # Again: nothing changes.
    assert jc_report.main([str(report_dir / "results.json"), "--out", str(report_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False


def test_results_without_runs_and_without_a_matrix_are_still_refused(tmp_path, capsys):
    (tmp_path / "results.json").write_text(json.dumps({"version": 1, "runs": []}))
    assert jc_report.main([str(tmp_path / "results.json"), "--out", str(tmp_path)]) == 2
    assert "holds no runs" in json.loads(capsys.readouterr().out)["error"]


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "chain-EESS.log").unlink(), "cannot read .*chain-EESS.log"),
    (lambda d: (d / "chain-SS.log").write_text("Traceback (most recent call last):\nboom\n"),
     "no jc_pipeline report in .*chain-SS.log; it ends: Traceback .* boom"),
    (lambda d: (d / "monolith-S.log").write_text(""), "no jc_pipeline report in .*monolith-S.log"),
    (lambda d: (d / "plan.json").write_text("{}"), "'plan'"),
])
def test_a_broken_matrix_is_a_clear_error(report_dir, capsys, damage, message):
    damage(report_dir / "pipeline")
    assert jc_report.main([str(report_dir / "results.json"), "--out", str(report_dir)]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error.startswith("workload III's matrix in ")
    assert re.search(message, error), error


def test_the_matrixs_wall_time_is_said_when_the_plan_has_it(report_dir):
    pipeline = jc_report.load_pipeline(str(report_dir))
    assert "the matrix took" not in "\n".join(jc_report.pipeline_lines(pipeline))
    pipeline["plan"]["seconds"] = 301.4
    assert "the matrix took 301 s in all" in "\n".join(jc_report.pipeline_lines(pipeline))


def test_the_shared_cpu_bound_is_min_of_depth_and_cores_over_one_plus_the_cpu_ccr():
    assert jc_report.shared_cpu_bound(4, 2, 1.0) == 1.0
    assert jc_report.shared_cpu_bound(2, 8, 0.6) == pytest.approx(1.25)
    assert jc_report.shared_cpu_bound(3, None, 1.0) is None and jc_report.shared_cpu_bound(3, 2, None) is None


def test_the_table_by_size_has_the_shared_cpu_bound_only_when_the_hosts_share_cpus(report_dir):
    pipeline = jc_report.load_pipeline(str(report_dir))
    lines = jc_report.pipeline_lines(pipeline)
    header = next(line for line in lines if line.startswith("| size | stages |"))
    assert header.endswith("| shared-CPU bound × |")
    item = pipeline["by_size"]["256x256"]["depth4"]
    row = next(line for line in lines if line.startswith("| 256x256 | 4 | SSSS |"))
    assert row.endswith("| %.2f |" % (2 / (1 + item["ccr_cpu_throughput"])))
    plan = pipeline["plan"]
    plan["host_sharing"]["probes"] = [["%08d-boot" % i, "8", "max 100000"] for i in range(3)]
    assert not any("shared-CPU bound" in line for line in jc_report.pipeline_lines(pipeline))
