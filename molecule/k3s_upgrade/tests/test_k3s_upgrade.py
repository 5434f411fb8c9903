"""After playbooks/upgrade.yml (run twice): both nodes run the new version, each restarted once."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "k3s_common"))
from k3s_testlib import api_nodes, is_ready, node, read_json, release_sha256  # noqa: E402

OLD, NEW = "v1.30.13+k3s1", "v1.30.14+k3s1"
SERVER, AGENT = "k3s-upgrade-server", "k3s-upgrade-agent"
DOUBLE = "/var/lib/rancher/k3s/test-double"


@pytest.mark.parametrize("name", [SERVER, AGENT])
def test_binary_is_the_new_release_file(name):
    assert node(name).file("/usr/local/bin/k3s").sha256sum == release_sha256(NEW, "amd64", "k3s")


@pytest.mark.parametrize("name, role", [(SERVER, "server"), (AGENT, "agent")])
def test_running_process_is_the_new_version(name, role):
    assert read_json(node(name), DOUBLE + "/%s.json" % role)["version"] == NEW


@pytest.mark.parametrize("name, role", [(SERVER, "server"), (AGENT, "agent")])
def test_each_node_restarted_once_for_the_upgrade_and_not_on_the_rerun(name, role):
    # Started by the install (prepare), restarted by the upgrade, untouched by idempotence.
    assert read_json(node(name), DOUBLE + "/%s.json" % role)["starts"] == 2


def test_agent_rejoined_the_upgraded_server_with_the_same_token():
    # Kubelet certificates the supervisor handed out for the token: at the install and after the upgrade.
    assert read_json(node(SERVER), DOUBLE + "/nodes.json")[AGENT]["registrations"] == 2


@pytest.mark.parametrize("name", [SERVER, AGENT])
def test_the_api_reports_every_node_ready_at_the_new_version_and_schedulable(name):
    # Drained, upgraded, waited for until Ready and uncordoned through the real API (kwok plays the nodes).
    item = api_nodes()[name]
    assert is_ready(item)
    assert item.status.node_info.kubelet_version == NEW
    assert not item.spec.unschedulable


@pytest.mark.parametrize("name", [SERVER, AGENT])
def test_new_release_images_are_loaded(name):
    assert node(name).run("docker image inspect docker.io/k3s-test-double/pause:v1.30.14-k3s1").rc == 0


@pytest.mark.parametrize("name, service", [(SERVER, "k3s"), (AGENT, "k3s-agent")])
def test_services_run_after_the_upgrade(name, service):
    assert node(name).service(service).is_running
