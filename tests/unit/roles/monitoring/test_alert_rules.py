"""roles/monitoring/files/jc_alerts.yml: valid for Prometheus' own checker and unit-tested with it.

promtool comes with Debian's `prometheus` package, which tests/harness/bootstrap.sh installs.
"""

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[4]
RULES = ROOT / "roles" / "monitoring" / "files" / "jc_alerts.yml"
RULE_TESTS = Path(__file__).resolve().parent / "jc_alerts_test.yml"
REQUIRED_ALERTS = {"Watchdog", "NodeDown", "GpuExporterDown", "TelemetryStale", "TemperatureHigh", "GpuThrottled",
                   "GpuClockDropUnderLoad", "BenchmarkThroughputBelowBaseline", "NfsExportUnreachable"}


def promtool(*args):
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: run tests/harness/bootstrap.sh (it installs Debian's prometheus package)"
    return subprocess.run([binary] + list(args), capture_output=True, text=True, check=False, timeout=120)


def alerts():
    return [rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_rule_file():
    proc = promtool("check", "rules", str(RULES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: %d rules found" % len(alerts()) in proc.stdout


def test_promtool_unit_tests_of_the_rules_pass():
    proc = promtool("test", "rules", str(RULE_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_alerts_the_cluster_needs_are_there_once():
    names = alerts()
    assert sorted(names) == sorted(set(names))
    assert set(names) == REQUIRED_ALERTS


def test_every_alert_has_a_promtool_test():
    tested = {case["alertname"] for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for case in test.get("alert_rule_test", [])}
    assert tested == set(alerts())


def test_every_alert_has_severity_summary_and_description():
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"none", "warning", "critical"}, rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
