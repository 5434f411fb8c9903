"""roles/gpu_workloads/files/jc_infer/metrics.py: the workload's metrics in node_exporter's
textfile format, with the names the alert rules read, and a run without prometheus_client."""

import shutil
import subprocess
import sys
from pathlib import Path

import jc_infer.metrics as metrics
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "roles" / "monitoring" / "files" / "jc_alerts.yml"
SETTINGS = {"workload_mode": "files", "job_completion_index": 2, "total_jobs": 3}


def samples(path):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(path.read_text()) for s in family.samples}


def a_run(tmp_path):
    run = metrics.from_settings(SETTINGS, {"METRICS_TEXTFILE_DIR": str(tmp_path), "NODE_NAME": "worker3"})
    run.phase("warmup")
    run.phase("timed")
    for seconds in (0.3, 0.4, 0.02):
        run.batch(8, seconds)
    run.finish({"errors": 1, "throughput": 57.5})
    return run


def test_a_finished_run_writes_its_counts_histogram_and_throughput(tmp_path):
    run = a_run(tmp_path)
    assert Path(run.path) == tmp_path / "jc_infer_files_2.prom"
    values = samples(tmp_path / "jc_infer_files_2.prom")
    labels = (("index", "2"), ("node", "worker3"), ("total_jobs", "3"), ("workload", "files"))
    assert values[("jc_infer_images_total", labels)] == 24
    assert values[("jc_infer_errors_total", labels)] == 1
    assert values[("jc_benchmark_throughput_images_per_second", labels)] == 57.5
    assert values[("jc_infer_batch_seconds_count", labels)] == 3
    assert values[("jc_infer_batch_seconds_bucket", labels[:1] + (("le", "0.5"),) + labels[1:])] == 3
    assert values[("jc_infer_batch_seconds_bucket", labels[:1] + (("le", "0.25"),) + labels[1:])] == 1


def test_only_the_current_phase_is_one(tmp_path):
    a_run(tmp_path)
    phases = {dict(key[1])["phase"]: value for key, value in samples(tmp_path / "jc_infer_files_2.prom").items()
              if key[0] == "jc_infer_phase"}
    assert phases == {"starting": 0, "warmup": 0, "timed": 0, "done": 1, "failed": 0}


def test_the_throughput_has_the_name_and_label_the_baseline_alert_joins_on(tmp_path):
    a_run(tmp_path)
    rule = next(rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
                if rule.get("alert") == "BenchmarkThroughputBelowBaseline")
    names = {key[0] for key in samples(tmp_path / "jc_infer_files_2.prom")}
    assert "jc_benchmark_throughput_images_per_second" in rule["expr"] and "on (workload)" in rule["expr"]
    assert "jc_benchmark_throughput_images_per_second" in names


def test_promtool_accepts_the_textfile(tmp_path):
    a_run(tmp_path)
    proc = subprocess.run([shutil.which("promtool"), "check", "metrics"], input=(tmp_path / "jc_infer_files_2.prom")
                          .read_text(), capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_without_a_directory_nothing_is_written(tmp_path):
    run = metrics.from_settings(SETTINGS, {})
    run.phase("timed")
    run.batch(8, 0.1)
    run.finish({"errors": 0, "throughput": 1.0})
    assert not run.enabled and run.path is None


def test_without_prometheus_client_the_run_says_so_once_and_goes_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import raises ImportError
    run = metrics.from_settings(SETTINGS, {"METRICS_TEXTFILE_DIR": str(tmp_path)})
    run.phase("timed")
    run.batch(8, 0.1)
    run.finish({"errors": 0, "throughput": 1.0})
    err = capsys.readouterr().err
    assert err.count("prometheus_client is not installed") == 1
    assert list(tmp_path.iterdir()) == []


def test_the_timeline_is_on_the_node_clock_and_names_the_node():
    line = metrics.timeline(1000.0, 1012.5, 30.25, {"NODE_NAME": "worker1"})
    assert line == {"node": "worker1",
                    "timeline": {"warmup_start": 1000.0, "window_start": 1012.5, "window_end": 1042.75}}
