"""Memory of the monitoring stack as it runs after converge (VmRSS of each service's main process).

The numbers are written to .cache/monitoring-footprint.json for the report; the budgets are what a
4 GB Jetson Nano (board side) and the laptop (gateway side) can spare.
"""

import json
import os
from pathlib import Path

import testinfra

testinfra_hosts = ["monitoring-gateway"]

ROOT = Path(__file__).resolve().parents[3]
BUDGET_MIB = {
    ("monitoring-board", "jc-gpu-exporter"): 30,
    ("monitoring-board", "prometheus-node-exporter"): 40,
    ("monitoring-gateway", "prometheus-node-exporter"): 40,
    ("monitoring-gateway", "prometheus-blackbox-exporter"): 40,
    ("monitoring-gateway", "prometheus"): 400,
}


def rss_mib(host, unit):
    pid = host.run("systemctl show --property MainPID --value %s", unit).stdout.strip()
    assert pid and pid != "0", "%s is not running" % unit
    for line in host.file("/proc/%s/status" % pid).content_string.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS for %s" % unit)


def test_stack_memory_stays_within_budget():
    measured = {}
    for (name, unit), budget in sorted(BUDGET_MIB.items()):
        host = testinfra.get_host("ansible://" + name, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
        measured["%s/%s" % (name, unit)] = round(rss_mib(host, unit), 1)
    (ROOT / ".cache").mkdir(exist_ok=True)
    (ROOT / ".cache" / "monitoring-footprint.json").write_text(json.dumps(measured, indent=1) + "\n")
    for (name, unit), budget in BUDGET_MIB.items():
        assert measured["%s/%s" % (name, unit)] <= budget, measured
