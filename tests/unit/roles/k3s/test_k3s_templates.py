"""Golden-file tests of the files the k3s roles write on a node.

The templates are rendered by ansible-playbook with the roles' own defaults and vars
(k3s_render.py) and compared with tests/fixtures/k3s/<case>/<file>.golden (byte-exact
snapshots; not named .yaml, so the linters leave them alone). After an intended change,
regenerate with: EDGEAI_JC_UPDATE_GOLDEN=1 python -m pytest tests/unit/roles/k3s -q
and review the diff.
"""

import os
from pathlib import Path

import pytest
import yaml

from k3s_render import ROOT, render

GOLDEN = ROOT / "tests" / "fixtures" / "k3s"
UPDATE = os.environ.get("EDGEAI_JC_UPDATE_GOLDEN") == "1"
# A token shaped like k3s's (K10<sha256 of the server CA>::server:<secret>); not a real one.
TOKEN = "K10" + "ab" * 32 + "::server:0123456789abcdef0123456789abcdef"

# The files each role writes on a node, from k3s_common's templates.
SERVER_FILES = {"config.yaml": "k3s_common/templates/config.yaml.j2",
                "k3s.service": "k3s_common/templates/k3s.service.j2",
                "k3s.service.env": "k3s_common/templates/k3s.service.env.j2"}
AGENT_FILES = {"config.yaml": "k3s_common/templates/config.yaml.j2",
               "k3s-agent.service": "k3s_common/templates/k3s.service.j2",
               "k3s-agent.service.env": "k3s_common/templates/k3s.service.env.j2"}

CASES = {
    # The reference topology with the inventory's network plan and every default.
    "server-default": ("k3s_server", "jetson-master", SERVER_FILES, {}, {
        "cluster_pod_cidr": "10.42.0.0/16", "cluster_service_cidr": "10.43.0.0/16"}),
    # A schedulable master on containerd, with everything a user can pass through.
    "server-custom": ("k3s_server", "jetson-master", SERVER_FILES, {
        "k3s_server_schedulable": True,
        "k3s_server_docker": False,
        "k3s_server_node_name": "master",
        "k3s_server_node_labels": ["site=lab", "gpu=tegra-x1"],
        "k3s_server_tls_san": ["jetson-master", "jetson-master.lan"],
        "k3s_server_extra_config": {"disable": ["traefik", "servicelb"], "flannel-backend": "host-gw"},
        "k3s_server_service_env": {"HTTPS_PROXY": "http://proxy.lan:3128", "NO_PROXY": "192.168.0.0/16,10.42.0.0/16"},
        "k3s_server_token": "a-fixed-cluster-secret",
        "k3s_server_api_port": 7443,
    }, {"cluster_pod_cidr": "10.52.0.0/16", "cluster_service_cidr": "10.53.0.0/16"}),
    # A worker of the reference topology, joining through the server's published facts.
    "agent-default": ("k3s_agent", "jetson-worker1", AGENT_FILES, {"k3s_agent_token": TOKEN}, {}),
    # A worker with extra labels, a taint, passthrough settings and proxy environment.
    "agent-custom": ("k3s_agent", "jetson-worker2", AGENT_FILES, {
        "k3s_agent_token": TOKEN,
        "k3s_agent_docker": False,
        "k3s_agent_node_labels": ["node-type=worker", "camera=csi"],
        "k3s_agent_node_taints": ["dedicated=inference:NoSchedule"],
        "k3s_agent_extra_config": {"kubelet-arg": ["max-pods=30"]},
        "k3s_agent_service_env": {"HTTPS_PROXY": "http://proxy.lan:3128"},
    }, {}),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    results = {}
    for case, (role, host, files, extra, inventory_vars) in CASES.items():
        out, _ = render(tmp_path_factory.mktemp(case), role, host, files, extra, inventory_vars)
        results[case] = out
    return results


@pytest.mark.parametrize(
    "case, name",
    [(case, name) for case, spec in CASES.items() for name in spec[2]],
)
def test_rendered_file_matches_golden(rendered, case, name):
    text = (rendered[case] / name).read_text()
    golden = GOLDEN / case / (name + ".golden")
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def config(rendered, case):
    return yaml.safe_load((rendered[case] / "config.yaml").read_text())


def test_default_server_is_tainted_against_ordinary_pods(rendered):
    assert config(rendered, "server-default")["node-taint"] == [
        "node-role.kubernetes.io/control-plane=true:NoSchedule"]


def test_schedulable_server_has_no_taint(rendered):
    assert config(rendered, "server-custom")["node-taint"] == []


def test_server_networks_come_from_the_inventory(rendered):
    settings = config(rendered, "server-custom")
    assert (settings["cluster-cidr"], settings["service-cidr"]) == ("10.52.0.0/16", "10.53.0.0/16")


def test_server_node_ip_comes_from_cluster_node_ip(rendered):
    assert config(rendered, "server-default")["node-ip"] == "192.168.10.1"


def test_kubeconfig_mode_is_a_string_k3s_reads_as_octal(rendered):
    assert config(rendered, "server-default")["write-kubeconfig-mode"] == "0600"


def test_server_extra_config_is_passed_through(rendered):
    settings = config(rendered, "server-custom")
    assert (settings["disable"], settings["flannel-backend"]) == (["traefik", "servicelb"], "host-gw")


def test_server_unit_waits_for_docker_only_with_the_docker_runtime(rendered):
    default = (rendered["server-default"] / "k3s.service").read_text()
    custom = (rendered["server-custom"] / "k3s.service").read_text()
    assert "After=network-online.target time-sync.target docker.service" in default
    assert "docker.service" not in custom


@pytest.mark.parametrize("case, unit", [("server-default", "k3s.service"), ("agent-default", "k3s-agent.service"),
                                        ("server-custom", "k3s.service"), ("agent-custom", "k3s-agent.service")])
def test_k3s_starts_only_after_the_clock_is_synchronised(rendered, case, unit):
    # A Jetson Nano has no RTC battery: k3s must not issue or check certificates before the
    # time client has set the clock (time-sync.target).
    lines = (rendered[case] / unit).read_text().splitlines()
    for directive in ("Wants=", "After="):
        targets = [line[len(directive):].split() for line in lines if line.startswith(directive)]
        assert len(targets) == 1 and "time-sync.target" in targets[0], (directive, targets)


def test_server_token_goes_to_the_environment_file_only(rendered):
    assert 'K3S_TOKEN="a-fixed-cluster-secret"' in (rendered["server-custom"] / "k3s.service.env").read_text()
    assert "a-fixed-cluster-secret" not in (rendered["server-custom"] / "config.yaml").read_text()


def test_agent_joins_the_servers_node_ip(rendered):
    env = (rendered["agent-default"] / "k3s-agent.service.env").read_text()
    assert 'K3S_URL="https://192.168.10.1:6443"' in env


def test_agent_config_holds_no_server_or_token(rendered):
    text = (rendered["agent-default"] / "config.yaml").read_text()
    assert "server" not in yaml.safe_load(text) and TOKEN not in text


def test_agent_is_labelled_worker_once(rendered):
    assert config(rendered, "agent-custom")["node-label"] == ["node-type=worker", "camera=csi"]
