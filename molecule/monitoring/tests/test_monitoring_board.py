"""The board after converge: node_exporter without thermal_zone, the GPU exporter as a service."""

import json

testinfra_hosts = ["monitoring-board"]


def test_node_exporter_runs_without_the_thermal_zone_collector(host):
    service = host.service("prometheus-node-exporter")
    assert service.is_running and service.is_enabled
    args = host.file("/etc/default/prometheus-node-exporter").content_string
    assert "--no-collector.thermal_zone" in args
    assert "--web.listen-address=:9100" in args


def test_gpu_exporter_runs_as_a_service_on_its_own_port(host):
    service = host.service("jc-gpu-exporter")
    assert service.is_running and service.is_enabled
    assert host.socket("tcp://0.0.0.0:9401").is_listening
    assert host.file("/opt/jc_gpu_exporter/jc_telemetry.py").exists


def test_gpu_exporter_serves_the_replayed_tegrastats(host):
    script = ("import urllib.request, json, sys; "
              "body = urllib.request.urlopen('http://127.0.0.1:9401/metrics', timeout=10).read().decode(); "
              "print(json.dumps([l for l in body.splitlines() if l.startswith(('jc_telemetry_source_info', "
              "'jc_telemetry_up', 'jc_gpu_clock_hertz'))]))")
    result = host.run("python3 -c \"%s\"" % script)
    assert result.rc == 0, result.stderr
    lines = json.loads(result.stdout)
    assert 'jc_telemetry_source_info{source="tegrastats"} 1.0' in lines
    assert "jc_telemetry_up 1.0" in lines
