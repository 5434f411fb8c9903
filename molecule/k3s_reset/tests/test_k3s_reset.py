"""After playbooks/reset.yml (run twice): no trace of k3s on the nodes or the controller."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "k3s_common"))
from k3s_testlib import EPHEMERAL, node  # noqa: E402

SERVER, AGENT = "k3s-reset-server", "k3s-reset-agent"
COMMON = ["/usr/local/bin/k3s", "/etc/rancher/k3s", "/etc/rancher/node", "/var/lib/rancher/k3s",
          "/var/lib/kubelet", "/run/k3s"]
TRACES = ([(SERVER, path) for path in COMMON + [
    "/usr/local/bin/kubectl", "/etc/systemd/system/k3s.service", "/etc/systemd/system/k3s.service.env"]]
          + [(AGENT, path) for path in COMMON + [
              "/etc/systemd/system/k3s-agent.service", "/etc/systemd/system/k3s-agent.service.env"]])


@pytest.mark.parametrize("name, path", TRACES)
def test_k3s_file_is_gone(name, path):
    assert not node(name).file(path).exists


@pytest.mark.parametrize("name, unit", [(SERVER, "k3s.service"), (AGENT, "k3s-agent.service")])
def test_systemd_no_longer_knows_the_unit(name, unit):
    state = node(name).check_output("systemctl show --property=LoadState --value %s" % unit)
    assert state == "not-found"


@pytest.mark.parametrize("name", [SERVER, AGENT])
def test_no_k3s_process_is_left(name):
    assert node(name).run("pgrep -f '[/]usr/local/bin/k3s'").rc == 1
    # Nor any of the control plane's processes the double ran (kine, kube-*, kwok).
    assert node(name).run("pgrep -f '[/]opt/jc-kube/'").rc == 1


def test_containers_kubernetes_made_are_removed():
    assert node(AGENT).check_output(
        "docker ps --all --quiet --filter label=io.kubernetes.docker.type") == ""


def test_users_containers_stay():
    assert node(AGENT).run("docker container inspect users-own-container").rc == 0


@pytest.mark.parametrize("name", [SERVER, AGENT])
def test_docker_keeps_running(name):
    assert node(name).service("docker").is_running


def test_controller_kubeconfig_is_removed():
    assert not os.path.exists(os.path.join(EPHEMERAL, "kube", "jetson-cluster.yaml"))
