"""Workload III's ResNet-50 split in the gpu_workloads report (jc_report.py): the files in
<report>/split/ (a real run of benchmarks/resnet_split_cpu_bench.py,
tests/fixtures/pipeline/resnet_split_cpu/README.md) become a section with img/s beside the
data-parallel runs, per stage compute vs transfer and bytes per image at each cut; bad files are a
clear error, not a traceback."""

import json
import shutil
from pathlib import Path

import jc_report
import pytest

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "pipeline" / "resnet_split_cpu"
MATRIX = ROOT / "tests" / "fixtures" / "pipeline" / "docker_matrix"


@pytest.fixture
def report_dir(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "split")
    (tmp_path / "results.json").write_text(json.dumps({"version": 1, "created": "2026-12-01T00:00:00Z", "runs": []}))
    return tmp_path


def _pulls():
    return [json.loads(line) for line in (FIXTURE / "split-pull.log").read_text().splitlines() if line.startswith("{")]


def test_the_section_shows_the_split_beside_data_parallelism(report_dir):
    split = jc_report.load_split(str(report_dir))
    text = "\n".join(jc_report.split_lines(split, heading=True))
    assert "## Workload III" in text and "### ResNet-50 split by layers" in text
    assert "| data-parallel (jc_infer) | 1 |" in text and "| data-parallel (jc_infer) | 2 |" in text
    assert "| split, 2 stages | 2 |" in text and "| split, 3 stages | 3 |" in text
    # Every stage of every depth, its compute, transfer and the bytes that cross its cut.
    for raw in _pulls():
        for summary in raw["stages"]:
            assert "| %d | %s | " % (raw["depth"], summary["stage"]) in text
    two = [r for r in split["rows"] if r["depth"] == 2][0]
    assert "| %d |" % round(two["cut_bytes_per_image"][0]) in text
    # 3 containers of --cpus 1 on the 2-CPU machine of the capture: said so.
    assert "the 3-stage split asked for more CPUs than the machine has" in text


def test_main_renders_the_split_without_workloads_i_and_ii(report_dir, capsys):
    assert jc_report.main([str(report_dir / "results.json"), "--out", str(report_dir)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["changed"]
    # The console line (benchmark.yml's summary) names the split's rate beside data parallelism.
    assert printed["summary"] == ("ResNet-50 split: 1 stage 0.38 img/s (1.00x data-parallel on 1), "
                                  "2 stages 0.67 img/s (1.31x data-parallel on 2), 3 stages 0.96 img/s")
    report = (report_dir / "report.md").read_text()
    assert "Workloads I and II were not run" in report and report.count("## Workload III") == 1
    assert "### ResNet-50 split by layers" in report
    assert jc_report.main([str(report_dir / "results.json"), "--out", str(report_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False


def test_with_the_placement_matrix_the_split_is_a_subsection_of_its_section(report_dir, capsys):
    shutil.copytree(MATRIX, report_dir / "pipeline")
    assert jc_report.main([str(report_dir / "results.json"), "--out", str(report_dir)]) == 0
    report = (report_dir / "report.md").read_text()
    assert report.count("## Workload III") == 1
    assert report.index("(placement matrix)") < report.index("### ResNet-50 split by layers")


def test_without_data_parallel_runs_the_split_is_shown_alone(report_dir):
    (report_dir / "split" / "dataparallel.log").unlink()
    text = "\n".join(jc_report.split_lines(jc_report.load_split(str(report_dir)), heading=True))
    assert "No data-parallel run on the same nodes" in text and "| split, 2 stages | 2 |" in text


@pytest.mark.parametrize("name,content,message", [
    ("split-pull.log", "jc_pipeline: pipeline failed: stage layer3: upstream x failed after 1 items\n",
     "the chain failed"),
    ("split-pull.log", '{"kind": "resnet_split", "fps": "fast"}\n', "'batch' is"),
    ("dataparallel.log", '{"total_jobs": 2, "index": 0, "errors": 0, "throughput": 0.4}\n', "1 of 2 results"),
    ("meta.json", "[]", "not a JSON object"),
])
def test_bad_files_are_a_report_error_naming_them(report_dir, capsys, name, content, message):
    (report_dir / "split" / name).write_text(content)
    assert jc_report.main([str(report_dir / "results.json"), "--out", str(report_dir)]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert "workload III's split" in error and message in error and name in error


def test_an_empty_split_folder_is_an_error(tmp_path):
    (tmp_path / "split").mkdir()
    with pytest.raises(jc_report.ReportError, match="no split-pull"):
        jc_report.load_split(str(tmp_path))


@pytest.mark.parametrize("run", ["alone", "with_the_rest"])
def test_what_the_roles_split_runner_left_in_the_lab_renders(tmp_path, capsys, run):
    # <report>/split/ as roles/pipeline_workload/tasks/split_run.yml wrote it in the lab
    # (benchmarks/results/resnet_split_lab_run1/README.md): the report reads it unchanged.
    source = ROOT / "benchmarks" / "results" / "resnet_split_lab_run1" / run
    (tmp_path / "split").mkdir()
    for name in ("split-pull.log", "dataparallel.log", "meta.json"):
        shutil.copy(source / name, tmp_path / "split" / name)
    (tmp_path / "results.json").write_text(json.dumps({"version": 1, "created": "2026-12-01T00:00:00Z", "runs": []}))
    assert jc_report.main([str(tmp_path / "results.json"), "--out", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["summary"].startswith("ResNet-50 split: 2 stages ")
    text = (tmp_path / "report.md").read_text()
    section = text[text.index("### ResNet-50 split by layers"):]
    assert section.rstrip("\n") == (source / "report-excerpt.md").read_text().rstrip("\n")
    assert "| data-parallel (jc_infer) | 2 |" in section and "| split, 2 stages | 2 |" in section
    assert "stages on worker1 -> worker2" in section and "on one machine of 2" in section
