"""Every preflight failure mode, run through site.yml against real (throwaway) hosts.

Two systemd containers (inventory pf-node1 = k3s server + NFS server, pf-node2 = agent) stand in
for the boards. Each case writes an inventory that breaks one promise, runs
`ansible-playbook site.yml --tags preflight`, and checks
  - the run fails with exactly the expected message, and
  - nothing happened on the hosts: Docker recorded no exec into either container during the
    run (the docker connection execs for every task and fact gathering), and a marker file and
    the hostname are as they were.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = Path(__file__).resolve().parent / "files"
# pytest-xdist may run this module's tests in several workers at once (its xdist_group has no
# effect with the pinned pytest 9): each worker gets containers of its own. The inventory names,
# which the messages carry, stay pf-node1 and pf-node2.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
OWNER = "pytest-preflight" + ("-" + WORKER if WORKER else "")
HOSTS = ["pf-node1", "pf-node2"]
CONTAINERS = {host: (host.replace("pf-", "pf-%s-" % WORKER) if WORKER else host) for host in HOSTS}
MARKER = "/etc/edgeai-preflight-marker"

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("preflight")]


def _env():
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
    )
    return env


def _docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def _remove_hosts():
    ids = _docker("ps", "-aq", "--filter", f"label=edgeai.jc.owner={OWNER}").stdout.split()
    if ids:
        _docker("rm", "-f", "-v", *ids)


def _host_state(host):
    """What must not change: the marker's content and mtime, and the hostname."""
    return _docker("exec", CONTAINERS[host], "sh", "-c", f"stat -c '%y %s' {MARKER}; cat {MARKER}; hostname").stdout


@pytest.fixture(scope="module")
def hosts():
    _remove_hosts()
    containers = [{"name": CONTAINERS[host], "hostname": host} for host in HOSTS]
    subprocess.run(
        ["ansible-playbook", str(FILES / "systemd_hosts_up.yml"),
         "-e", json.dumps({"owner": OWNER, "containers": containers})],
        cwd=ROOT, env=dict(_env(), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default"),
        check=True, capture_output=True, text=True,
    )
    for host in HOSTS:
        _docker("exec", CONTAINERS[host], "sh", "-c", f"echo untouched-{host} > {MARKER}")
    yield {host: _host_state(host) for host in HOSTS}
    _remove_hosts()


# The plan of inventory/example, mapped onto the two containers.
PLAN = {
    "cluster_gateway_address": "192.168.0.1/16",
    "cluster_node_network": "192.168.10.0/24",
    "cluster_dns_servers": ["8.8.8.8"],
    "cluster_pod_cidr": "10.42.0.0/16",
    "cluster_service_cidr": "10.43.0.0/16",
    "cluster_nfs_export_network": "192.168.10.0/24",
}


def _inventory(tmp_path, plan=None, node_vars=None, servers=("pf-node1",), agents=("pf-node2",)):
    node_vars = node_vars or {}
    ips = {"pf-node1": "192.168.10.1", "pf-node2": "192.168.10.2"}

    def host(name):
        hostvars = {"ansible_host": CONTAINERS[name], "cluster_node_ip": ips[name]}
        hostvars.update(node_vars.get(name, {}))
        return hostvars

    inventory = {
        "all": {
            "vars": dict(PLAN, ansible_connection="community.docker.docker", **(plan or {})),
            "children": {
                "gateway": {"hosts": {}},
                "jetson": {
                    "children": {
                        "k3s_server": {"hosts": {name: host(name) for name in servers}},
                        "k3s_agents": {"hosts": {name: host(name) for name in agents}},
                    }
                },
                "nfs_server": {"hosts": {"pf-node1": {}}},
            },
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def _run(playbook, inventory, *args):
    since = time.time()
    proc = subprocess.run(
        ["ansible-playbook", str(playbook), "-i", str(inventory), *args],
        cwd=ROOT, env=_env(), capture_output=True, text=True, check=False,
    )
    time.sleep(1)
    events = _docker(
        "events", "--since", f"{since:.6f}", "--until", f"{time.time():.6f}",
        "--filter", "event=exec_create",
        *[arg for host in HOSTS for arg in ("--filter", f"container={CONTAINERS[host]}")],
        "--format", "{{.Actor.Attributes.name}} {{.Action}}",  # e.g. "pf-node1 exec_create: /bin/sh -c ..."
    ).stdout.split("\n")
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"ansible-playbook printed no JSON (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.returncode, report, [event for event in events if event]


def _failures(report):
    return [
        (task["task"]["name"], host, result.get("msg"))
        for play in report["plays"]
        for task in play["tasks"]
        for host, result in task["hosts"].items()
        if result.get("failed")
    ]


def _expected(*problems):
    return "\n- ".join(
        [f"Preflight found {len(problems)} problem(s) in the inventory; no host has been changed:", *problems]
    )


OVERLAP = ("the two ranges must not share addresses (k3s routes its pod and service ranges inside the "
           "cluster, away from the LAN).")

UPPER_CASE = ("hostnames that cannot be k3s node names (lowercase letters, digits, '-' and '.', labels of at "
              "most 63 characters; upper case is refused because the kubelet would register a lowercased "
              "name): pf-node2 (Jetson-B).")
TWO_SERVERS = ("k3s_server must hold exactly one host (the collection runs one k3s server, no HA control "
               "plane); it holds 2: pf-node1, pf-node2.")

CASES = [
    pytest.param(
        dict(plan={"cluster_gateway_address": "10.42.0.1/24"}),
        _expected(
            "the gateway network 10.42.0.0/24 (cluster_gateway_address 10.42.0.1/24) overlaps "
            "cluster_pod_cidr 10.42.0.0/16: " + OVERLAP,
            "cluster_node_network 192.168.10.0/24 is not inside the gateway network 10.42.0.0/24 "
            "(cluster_gateway_address 10.42.0.1/24): the boards could not reach the laptop.",
            "cluster_node_ip outside the gateway network 10.42.0.0/24 (cluster_gateway_address 10.42.0.1/24): "
            "pf-node1 (192.168.10.1), pf-node2 (192.168.10.2).",
        ),
        id="reference-build-gateway-10.42.0.1/24",
    ),
    pytest.param(
        dict(plan={"cluster_service_cidr": "10.42.0.0/16"}),
        _expected("cluster_pod_cidr 10.42.0.0/16 overlaps cluster_service_cidr 10.42.0.0/16: " + OVERLAP),
        id="pod-and-service-cidr-overlap",
    ),
    pytest.param(
        dict(plan={"cluster_pod_cidr": "192.168.10.0/25"}),
        _expected(
            "the gateway network 192.168.0.0/16 (cluster_gateway_address 192.168.0.1/16) overlaps "
            "cluster_pod_cidr 192.168.10.0/25: " + OVERLAP,
            "cluster_node_network 192.168.10.0/24 overlaps cluster_pod_cidr 192.168.10.0/25: " + OVERLAP,
            "cluster_node_ip inside cluster_pod_cidr 192.168.10.0/25, which k3s keeps for itself: "
            "pf-node1 (192.168.10.1), pf-node2 (192.168.10.2).",
        ),
        id="node-ips-inside-pod-cidr",
    ),
    pytest.param(
        dict(node_vars={"pf-node2": {"cluster_node_ip": "172.16.0.2"}},
             plan={"cluster_nfs_export_network": "0.0.0.0/0"}),
        _expected(
            "cluster_node_ip outside the gateway network 192.168.0.0/16 (cluster_gateway_address "
            "192.168.0.1/16): pf-node2 (172.16.0.2)."
        ),
        id="node-ip-outside-gateway-network",
    ),
    pytest.param(
        dict(node_vars={"pf-node2": {"cluster_node_ip": "192.168.10.1"}}),
        _expected("duplicate cluster_node_ip 192.168.10.1 on pf-node1, pf-node2."),
        id="duplicate-ip",
    ),
    pytest.param(
        dict(node_vars={"pf-node1": {"jetson_base_hostname": "jetson"},
                        "pf-node2": {"jetson_base_hostname": "jetson"}}),
        _expected("duplicate hostname jetson on pf-node1, pf-node2: k3s node names must be unique "
                  "(a second node with the same name replaces the first)."),
        id="duplicate-hostname",
    ),
    pytest.param(
        dict(node_vars={"pf-node2": {"jetson_base_hostname": "Jetson-B"}}),
        _expected(UPPER_CASE),
        id="upper-case-hostname",
    ),
    pytest.param(
        dict(servers=("pf-node1", "pf-node2"), agents=()),
        _expected(TWO_SERVERS),
        id="two-servers",
    ),
    pytest.param(
        # There is no HA control plane: the variable does not make two servers acceptable.
        dict(plan={"k3s_server_ha": True}, servers=("pf-node1", "pf-node2"), agents=()),
        _expected(TWO_SERVERS),
        id="k3s-server-ha-is-not-a-thing",
    ),
    pytest.param(
        dict(servers=("pf-node1",), agents=("pf-node1", "pf-node2")),
        _expected("hosts in both k3s_server and k3s_agents (each would install a k3s server: the 'all "
                  "nodes became masters' failure): pf-node1."),
        id="server-also-agent",
    ),
    pytest.param(
        dict(plan={"cluster_nfs_export_network": "192.168.10.0/31"}),
        _expected("cluster_nfs_export_network 192.168.10.0/31 does not contain these NFS clients, which "
                  "could not mount the dataset: pf-node2 (192.168.10.2)."),
        id="nfs-export-misses-an-agent",
    ),
    pytest.param(
        dict(node_vars={"pf-node2": {"cluster_node_ip": "192.168.10"}}),
        _expected("cluster_node_ip is missing or not an IPv4 address on: pf-node2 ('192.168.10')."),
        id="invalid-node-ip",
    ),
]


@pytest.mark.parametrize("case, message", CASES)
def test_site_preflight_fails_before_touching_hosts(hosts, tmp_path, case, message):
    rc, report, execs = _run(ROOT / "site.yml", _inventory(tmp_path, **case), "--tags", "preflight")
    assert rc == 2
    failures = _failures(report)
    assert [(name, msg) for name, _host, msg in failures] == [
        ("edgeai.jetson_cluster.preflight : Preflight | Check the inventory's network plan and topology "
         "before anything changes", message)
    ]
    assert execs == []
    assert {host: _host_state(host) for host in HOSTS} == hosts


def test_sound_plan_passes_without_touching_hosts(hosts, tmp_path):
    rc, report, execs = _run(ROOT / "playbooks" / "preflight.yml", _inventory(tmp_path))
    assert (rc, _failures(report)) == (0, [])
    assert sorted(report["stats"]) == HOSTS
    assert all(stats["changed"] == 0 for stats in report["stats"].values())
    assert execs == []
    assert {host: _host_state(host) for host in HOSTS} == hosts


def test_preflight_runs_in_check_mode_with_only_its_tag(hosts, tmp_path):
    inventory = _inventory(tmp_path, plan={"cluster_gateway_address": "10.42.0.1/24"})
    rc, report, execs = _run(ROOT / "site.yml", inventory, "--check", "--tags", "preflight_network_plan")
    assert rc == 2
    assert "cluster_pod_cidr 10.42.0.0/16" in _failures(report)[0][2]
    assert execs == []



def _unreachable_inventory(tmp_path, **changes):
    """The same plan on hosts nobody can reach: TEST-NET-1 addresses (RFC 5737) over SSH."""
    path = _inventory(tmp_path, **changes)
    inventory = yaml.safe_load(path.read_text())
    inventory["all"]["vars"].update(ansible_connection="ssh", ansible_ssh_common_args="-o ConnectTimeout=2")
    for group in inventory["all"]["children"]["jetson"]["children"].values():
        for name, hostvars in group["hosts"].items():
            hostvars["ansible_host"] = "192.0.2.%d" % (HOSTS.index(name) + 1)
    path.write_text(yaml.safe_dump(inventory))
    return path


# playbooks/preflight.yml (the users' "only check my inventory"): decides on the rules alone.
# Its hosts cannot be reached, so a run that tried to contact one would fail as unreachable.
def test_preflight_playbook_passes_a_sound_plan_on_unreachable_hosts(tmp_path):
    rc, report, _execs = _run(ROOT / "playbooks" / "preflight.yml", _unreachable_inventory(tmp_path))
    assert (rc, _failures(report)) == (0, [])
    assert sorted(report["stats"]) == HOSTS
    assert all(stats["unreachable"] == 0 and stats["changed"] == 0 for stats in report["stats"].values())


def test_preflight_playbook_refuses_a_bad_plan_on_unreachable_hosts(tmp_path):
    inventory = _unreachable_inventory(tmp_path, node_vars={"pf-node2": {"jetson_base_hostname": "Jetson-B"}})
    rc, report, _execs = _run(ROOT / "playbooks" / "preflight.yml", inventory)
    assert rc == 2
    assert [msg for _name, _host, msg in _failures(report)] == [_expected(UPPER_CASE)]
    assert all(stats["unreachable"] == 0 for stats in report["stats"].values())


def test_the_exec_probe_sees_a_play_that_reaches_the_hosts(hosts, tmp_path):
    # The control for every "execs == []" above: a play that runs one module on the hosts
    # (ping changes nothing) is seen by the probe.
    playbook = tmp_path / "ping.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Reach every host", "hosts": "all", "gather_facts": False,
        "tasks": [{"name": "Ping", "ansible.builtin.ping": {}}],
    }]))
    rc, report, execs = _run(playbook, _inventory(tmp_path))
    assert (rc, _failures(report)) == (0, [])
    assert {event.split()[0] for event in execs} == set(CONTAINERS.values())
