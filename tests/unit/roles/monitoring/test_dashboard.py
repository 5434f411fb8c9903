"""roles/monitoring/files/jc_dashboard.json: a Grafana dashboard whose every query Prometheus parses.

Whether each query returns data is asked of the real Prometheus of molecule/monitoring
(test_monitoring_dashboard.py); here a throwaway Prometheus (Debian's, as bootstrap.sh installs it)
checks that each expression is valid PromQL, and the JSON is checked against what Grafana's file
provisioning and the role's data source need.
"""

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
DASHBOARD = ROOT / "roles" / "monitoring" / "files" / "jc_dashboard.json"
VARS = ROOT / "roles" / "monitoring" / "vars" / "main.yml"


def dashboard():
    return json.loads(DASHBOARD.read_text())


def expressions():
    return [(panel["title"], target["expr"]) for panel in dashboard()["panels"] for target in panel["targets"]]


def test_every_panel_asks_the_provisioned_data_source():
    uid = yaml.safe_load(VARS.read_text())["monitoring_grafana_datasource_uid"]
    for panel in dashboard()["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert panel["targets"] and all(t["datasource"]["uid"] == uid for t in panel["targets"]), panel["title"]


def test_panels_have_unique_ids_and_do_not_overlap():
    panels = dashboard()["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells = set()
    for panel in panels:
        grid = panel["gridPos"]
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & mine, panel["title"]
        assert grid["x"] + grid["w"] <= 24
        cells |= mine


def test_the_dashboard_covers_gpu_thermal_power_throttling_workload_and_storage():
    text = " ".join(expr for _, expr in expressions())
    for metric in ("up", "jc_gpu_utilization_ratio", "jc_gpu_clock_hertz", "jc_temperature_celsius",
                   "jc_power_rail_watts", "jc_gpu_throttled", "node_cpu_seconds_total",
                   "jc_benchmark_throughput_images_per_second", "jc_benchmark_baseline_images_per_second",
                   "jc_infer_images_total", "jc_infer_batch_seconds_bucket", "jc_infer_phase", "probe_success"):
        assert metric in text, metric


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: run tests/harness/bootstrap.sh (it installs Debian's prometheus package)"
    work = tmp_path_factory.mktemp("prometheus")
    (work / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([binary, "--config.file=%s" % (work / "prometheus.yml"), "--storage.tsdb.path=%s" % work,
                             "--web.listen-address=127.0.0.1:%d" % port], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d/api/v1/" % port
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(url.replace("/api/v1/", "/-/ready"), timeout=2).read()
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError("the throwaway Prometheus did not become ready")
            time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.mark.parametrize("title, expr", expressions(), ids=[title for title, _ in expressions()])
def test_every_query_is_valid_promql(prometheus, title, expr):
    try:
        with urllib.request.urlopen(prometheus + "query?query=" + urllib.parse.quote(expr), timeout=10) as response:
            body = json.loads(response.read().decode())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read().decode())
    assert body["status"] == "success", "%s: %s" % (title, body.get("error"))
