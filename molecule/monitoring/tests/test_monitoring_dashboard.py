"""Every panel query of the Grafana dashboard (roles/monitoring/files/jc_dashboard.json) returns
data from the gateway's real Prometheus after converge.

Benchmark panels need a benchmark's results in node_exporter's textfile directory: the board gets
them from the workload's own metrics module (roles/gpu_workloads/files/jc_infer/metrics.py, run
there with the board's prometheus_client), the gateway gets the baseline file the benchmark writes
(roles/gpu_workloads/templates/jc_benchmark_baseline.prom.j2, rendered by Ansible's templar); real
node_exporters serve both, as they do after a benchmark.
"""

import base64
import json
import os
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import testinfra

testinfra_hosts = ["monitoring-gateway"]

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = json.loads((ROOT / "roles" / "monitoring" / "files" / "jc_dashboard.json").read_text())
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
WAIT_S = 120
WRITE_METRICS = """
import jc_infer.metrics as m
run = m.from_settings({"workload_mode": "synthetic", "job_completion_index": 0, "total_jobs": 1},
                      {"METRICS_TEXTFILE_DIR": "%s", "NODE_NAME": "monitoring-board"})
assert run.enabled, "no metrics: is prometheus_client there?"
run.phase("timed")
for seconds in (0.21, 0.19, 0.25, 0.2):
    run.batch(32, seconds)
run.finish({"errors": 0, "throughput": 150.0})
""" % TEXTFILE_DIR


def other(name):
    return testinfra.get_host("ansible://" + name, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def render_baseline():
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    runs = [{"workload": "synthetic", "jobs": 1, "aggregate": {"throughput": 160.0, "pods": 1}}]
    templar = Templar(loader=DataLoader(), variables={"ansible_managed": "Ansible managed",
                                                      "gpu_workloads_aggregate": {"runs": runs}})
    path = ROOT / "roles" / "gpu_workloads" / "templates" / "jc_benchmark_baseline.prom.j2"
    return templar.template(trust_as_template(path.read_text()))


@pytest.fixture(scope="module")
def benchmark_results(host):
    board = other("monitoring-board")
    board.ansible("copy", "src=%s dest=/opt/ mode=preserve" % (ROOT / "roles" / "gpu_workloads" / "files" / "jc_infer"),
                  check=False, become=True)
    result = board.run("cd /opt && python3 -c '%s'" % WRITE_METRICS.replace("'", "'\"'\"'"))
    assert result.rc == 0, result.stdout + result.stderr
    encoded = base64.b64encode(render_baseline().encode()).decode()
    result = host.run("echo %s | base64 -d > %s/jc_benchmark_baseline.prom", encoded, TEXTFILE_DIR)
    assert result.rc == 0, result.stderr


def query(host, promql):
    result = host.run("python3 -c 'import sys, urllib.request; "
                      "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' %s",
                      "http://127.0.0.1:9090/api/v1/query?query=" + quote(promql))
    assert result.rc == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["status"] == "success", body
    return body["data"]["result"]


TARGETS = [(panel["title"], target["refId"], target["expr"]) for panel in DASHBOARD["panels"]
           for target in panel["targets"]]


@pytest.mark.parametrize("title, ref, expr", TARGETS, ids=["%s/%s" % (t, r) for t, r, _ in TARGETS])
def test_every_panel_query_returns_data(host, benchmark_results, title, ref, expr):
    deadline = time.time() + WAIT_S
    while True:
        result = query(host, expr)
        if result or time.time() > deadline:
            break
        time.sleep(3)
    assert result, "panel %r query %s (%s) returned no data" % (title, ref, expr)


def test_the_workloads_numbers_arrive_as_written(host, benchmark_results):
    values = {r["metric"]["__name__"]: float(r["value"][1]) for r in query(
        host, '{__name__=~"jc_benchmark_.*|jc_infer_images_total", workload="synthetic"}')}
    assert values == {"jc_benchmark_throughput_images_per_second": 150.0, "jc_infer_images_total": 128.0,
                      "jc_benchmark_baseline_images_per_second": 160.0}
