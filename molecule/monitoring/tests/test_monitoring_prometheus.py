"""The gateway's Prometheus, asked over its real HTTP API after converge."""

import json
import time

testinfra_hosts = ["monitoring-gateway"]

API = "http://127.0.0.1:9090/api/v1/"
# Scrapes and rule evaluations run every 5 s here; the first ones may still be on their way.
WAIT_S = 120


def api(host, path):
    result = host.run("python3 -c 'import sys, urllib.request; "
                      "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' %s",
                      API + path)
    assert result.rc == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["status"] == "success", body
    return body["data"]


def eventually(host, path, predicate):
    deadline = time.time() + WAIT_S
    while True:
        data = api(host, path)
        if predicate(data) or time.time() > deadline:
            return data
        time.sleep(3)


def query(host, promql):
    from urllib.parse import quote
    return api(host, "query?query=" + quote(promql))["result"]


def test_prometheus_and_blackbox_run_and_start_at_boot(host):
    for name in ("prometheus", "prometheus-blackbox-exporter", "prometheus-node-exporter"):
        service = host.service(name)
        assert service.is_running and service.is_enabled, name


def test_retention_flags_are_set(host):
    flags = api(host, "status/flags")
    assert flags["storage.tsdb.retention.time"] == "15d"
    assert flags["storage.tsdb.retention.size"] in ("256MB", "256MiB")  # Prometheus prints its MB as MiB


def test_every_target_from_the_inventory_is_up(host):
    def all_up(data):
        return data["activeTargets"] and all(t["health"] == "up" for t in data["activeTargets"])

    data = eventually(host, "targets", all_up)
    targets = {(t["labels"]["job"], t["labels"]["instance"]): t["health"] for t in data["activeTargets"]}
    assert targets == {
        ("prometheus", "127.0.0.1:9090"): "up",
        ("node", "127.0.0.1:9100"): "up",
        ("node", "172.30.60.20:9100"): "up",
        ("jc_gpu", "172.30.60.20:9401"): "up",
        ("nfs_export", "172.30.60.20:2049"): "up",
    }, data["activeTargets"]


def test_the_boards_replayed_tegrastats_reaches_prometheus(host):
    eventually(host, "query?query=jc_telemetry_up", lambda d: d["result"] and d["result"][0]["value"][1] == "1")
    source = query(host, "jc_telemetry_source_info")
    assert [r["metric"]["source"] for r in source] == ["tegrastats"]
    assert source[0]["metric"]["node"] == "monitoring-board"
    utilisation = query(host, "jc_gpu_utilization_ratio")
    assert len(utilisation) == 1 and 0.0 <= float(utilisation[0]["value"][1]) <= 1.0
    assert query(host, "count(jc_temperature_celsius)")
    assert query(host, 'jc_memory_ram_total_bytes{node="monitoring-board"}')


def test_node_metrics_for_both_hosts(host):
    result = eventually(host, "query?query=count%20by%20(node)%20(node_load1)", lambda d: len(d["result"]) == 2)
    assert sorted(r["metric"]["node"] for r in result["result"]) == ["monitoring-board", "monitoring-gateway"]


def test_the_alert_rules_are_loaded_and_the_watchdog_fires(host):
    rules = api(host, "rules")
    names = {rule["name"] for group in rules["groups"] for rule in group["rules"]}
    assert {"Watchdog", "NodeDown", "GpuExporterDown", "TemperatureHigh", "GpuThrottled",
            "BenchmarkThroughputBelowBaseline", "NfsExportUnreachable"} <= names
    alerts = eventually(host, "alerts", lambda d: any(a["labels"]["alertname"] == "Watchdog" for a in d["alerts"]))
    assert any(a["labels"]["alertname"] == "Watchdog" and a["state"] == "firing" for a in alerts["alerts"])


def test_the_missing_nfs_server_is_reported_unreachable(host):
    # No NFS server runs on the board in this scenario: the probe fails and the alert is pending
    # (it fires after 2 minutes).
    data = eventually(host, "alerts",
                      lambda d: any(a["labels"]["alertname"] == "NfsExportUnreachable" for a in d["alerts"]))
    assert any(a["labels"]["alertname"] == "NfsExportUnreachable" for a in data["alerts"])
    assert [r["value"][1] for r in query(host, 'probe_success{job="nfs_export"}')] == ["0"]
