"""The container lab end to end: playbooks/lab.yml, site.yml twice, playbooks/benchmark.yml,
playbooks/lab-destroy.yml.

Marked `lab` (about 10 minutes on two cores): deselect with `-m "not lab"`. It refuses to touch
a lab that is already up (jc-lab-* containers): it skips with that reason instead of
destroying someone's lab. Set EDGEAI_JC_LAB_WORKER_ARCH=arm64 to run the workers under qemu.

One test function on purpose: the lab has fixed names and addresses, and pytest-xdist may hand
tests of one module to different workers (its xdist_group grouping has no effect with the
pinned pytest 9), which would bring two labs up at once.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OWNER = "jc-lab"
ECHO = "jc-lab-pytest-echo"
HOSTS = ["laptop", "master", "worker1", "worker2"]
TIMEOUT = int(os.environ.get("EDGEAI_JC_LAB_TIMEOUT", "1800"))

pytestmark = [pytest.mark.lab, pytest.mark.docker, pytest.mark.xdist_group("lab")]

RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)",
    re.MULTILINE,
)


def _env():
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
                ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")


def _docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def _playbook(log_dir, name, *args):
    """Run ansible-playbook, keep its log, return (rc, recap {host: {ok, changed, ...}}, output)."""
    proc = subprocess.run(["ansible-playbook", *args], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
    output = proc.stdout + proc.stderr
    (log_dir / f"{name}.log").write_text(output)
    recap_text = output.rsplit("PLAY RECAP", 1)[-1]
    recap = {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"}
             for m in RECAP.finditer(recap_text)}
    return proc.returncode, recap, output


def _tail(output, lines=80):
    return "\n".join(output.splitlines()[-lines:])


@pytest.fixture
def lab(tmp_path):
    existing = _docker("ps", "-aq", "--filter", f"label=edgeai.jc.owner={OWNER}").stdout.split()
    if existing:
        pytest.skip("a lab is already up (containers labelled edgeai.jc.owner=jc-lab); not touching it")
    logs = ROOT / ".cache" / "lab-logs"
    logs.mkdir(parents=True, exist_ok=True)
    inventory = tmp_path / "inventory"
    extra = ["-e", f"lab_inventory_dir={inventory}",
             "-e", f"lab_worker_arch={os.environ.get('EDGEAI_JC_LAB_WORKER_ARCH', 'amd64')}"]
    try:
        rc, _recap, output = _playbook(logs, "lab-up", "playbooks/lab.yml", *extra)
        assert rc == 0, "playbooks/lab.yml failed:\n" + _tail(output)
        yield {"inventory": inventory, "logs": logs}
    finally:
        _docker("rm", "-f", ECHO, check=False)
        rc, _recap, output = _playbook(logs, "lab-destroy", "playbooks/lab-destroy.yml",
                                       "-e", f"lab_inventory_dir={inventory}")
        assert rc == 0, "playbooks/lab-destroy.yml failed:\n" + _tail(output)
        left = _docker("ps", "-aq", "--filter", f"label=edgeai.jc.owner={OWNER}").stdout.split()
        assert left == [], f"lab-destroy.yml left containers behind: {left}"


def _inventory_names_the_four_containers(inventory):
    hosts = (inventory / "hosts.yml").read_text()
    for container in ("jc-lab-gateway", "jc-lab-master", "jc-lab-worker1", "jc-lab-worker2"):
        assert f"ansible_host: {container}" in hosts
    assert "cluster_kubernetes: false" in (inventory / "group_vars" / "all" / "lab.yml").read_text()


def _site_converges(lab):
    rc, recap, output = _playbook(lab["logs"], "site-1", "site.yml", "-i", str(lab["inventory"]))
    assert rc == 0, "first site.yml run failed:\n" + _tail(output)
    assert sorted(recap) == sorted(HOSTS)
    assert all(stats["failed"] == 0 and stats["unreachable"] == 0 for stats in recap.values()), recap


def _second_site_run_changes_nothing(lab):
    rc, recap, output = _playbook(lab["logs"], "site-2", "site.yml", "-i", str(lab["inventory"]))
    assert rc == 0, "second site.yml run failed:\n" + _tail(output)
    assert sorted(recap) == sorted(HOSTS)
    changed = {host: stats["changed"] for host, stats in recap.items() if stats["changed"]}
    assert changed == {}, f"changed on the second run {changed}:\n" + "\n".join(
        line for line in output.splitlines() if line.startswith("changed:"))


def _nodes_reach_upstream_through_the_gateways_nat():
    # An echo server on Docker's default bridge (the gateway's upstream) answers with the source
    # address it sees. Without the gateway's masquerade the answer to 192.168.10.x would be
    # dropped between Docker's bridges, so the answer itself proves the NAT.
    _docker("run", "-d", "--name", ECHO, "--label", "edgeai.jc.owner=pytest-lab",
            "edgeai-jc/debian-systemd:bookworm-amd64", "python3", "-c",
            "import http.server as h\n"
            "class H(h.BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            "        self.send_response(200); self.end_headers()\n"
            "        self.wfile.write(self.client_address[0].encode())\n"
            "h.HTTPServer(('', 8080), H).serve_forever()\n")
    echo_ip = _docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", ECHO).stdout.strip()
    gateway_upstream_ip = _docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "jc-lab-gateway").stdout.strip()
    fetch = ("import time, urllib.request as u\n"
             "for _ in range(20):\n"
             "    try:\n"
             f"        print(u.urlopen('http://{echo_ip}:8080/', timeout=5).read().decode()); break\n"
             "    except OSError:\n"
             "        time.sleep(0.5)\n")
    seen = _docker("exec", "jc-lab-worker1", "python3", "-c", fetch).stdout.strip()
    assert seen == gateway_upstream_ip, f"the upstream saw {seen!r} for worker1's request, not the gateway"


DNS_QUERY = r'''
import json, socket, struct
q = struct.pack(">HHHHHH", 0x4A43, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in "jc-lab-master".split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(q, ("192.168.0.1", 53)); r = s.recv(512)
print(json.dumps([r[3] & 15, struct.unpack(">H", r[6:8])[0], socket.inet_ntoa(r[-4:])]))
'''


def _gateway_answers_dns_for_the_lan():
    answer = json.loads(_docker("exec", "jc-lab-worker2", "python3", "-c", DNS_QUERY).stdout)
    assert answer == [0, 1, "192.168.10.1"], f"DNS answer from the gateway: {answer}"


def _nodes_sync_their_clock_from_the_gateway():
    # jetson_base's chrony on every node takes the gateway (192.168.0.1) as its one source and
    # reaches it; edgeai-time-sync-wait (which holds time-sync.target at boot) waits for the sync.
    for node in ("jc-lab-master", "jc-lab-worker1", "jc-lab-worker2"):
        waited = _docker("exec", node, "systemctl", "start", "edgeai-time-sync-wait.service", check=False)
        assert waited.returncode == 0, f"{node} did not sync from the gateway: {waited.stderr}"
        sources = _docker("exec", node, "chronyc", "-n", "sources").stdout.splitlines()
        assert [line.split()[:2] for line in sources if line[:1] == "^"] == [["^*", "192.168.0.1"]], sources


def _benchmark_writes_a_report_for_both_workloads(lab, tmp_path):
    # Small counts: the lab's "boards" share this machine's cores, so the numbers measure
    # nothing; what is tested is the path from the image to the report.
    report = tmp_path / "report"
    rc, _recap, output = _playbook(lab["logs"], "benchmark", "playbooks/benchmark.yml",
                                   "-i", str(lab["inventory"]), "-e", f"gpu_workloads_report_dir={report}",
                                   "-e", "gpu_workloads_synthetic_images=48",
                                   "-e", "gpu_workloads_files_max_images=24")
    assert rc == 0, "playbooks/benchmark.yml failed:\n" + _tail(output)
    for name in ("results.json", "report.md", "benchmark.png"):
        assert (report / name).stat().st_size > 0, f"{name} missing from the report"
    runs = json.loads((report / "results.json").read_text())["runs"]
    # Each workload on one worker (the baseline), then on both.
    assert sorted((run["workload"], run["jobs"]) for run in runs) == [
        ("files", 1), ("files", 2), ("synthetic", 1), ("synthetic", 2)], runs
    for run in runs:
        agg = run["aggregate"]
        assert agg["images"] > 0 and agg["throughput"] > 0, run
        assert agg["missing_indices"] == [] and agg["duplicate_indices"] == [], run


def test_lab_converges_stays_converged_and_routes_the_nodes_through_the_gateway(lab, tmp_path):
    _inventory_names_the_four_containers(lab["inventory"])
    _site_converges(lab)
    _second_site_run_changes_nothing(lab)
    _nodes_reach_upstream_through_the_gateways_nat()
    _gateway_answers_dns_for_the_lan()
    _nodes_sync_their_clock_from_the_gateway()
    _benchmark_writes_a_report_for_both_workloads(lab, tmp_path)
