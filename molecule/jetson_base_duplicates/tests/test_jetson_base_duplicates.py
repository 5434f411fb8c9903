"""Nothing changed on either host after jetson_base refused them (molecule/jetson_base_duplicates)."""

import pytest

testinfra_hosts = ["jb-dup1", "jb-dup2"]


@pytest.fixture
def name(host):
    return host.backend.get_hostname()


def test_hostname_file_is_untouched(host, name):
    assert host.file("/etc/hostname").content_string == name + "\n"


def test_running_hostname_is_untouched(host, name):
    assert host.check_output("hostname") == name


def test_etc_hosts_has_no_cluster_entries(host):
    hosts = host.file("/etc/hosts").content_string
    assert "jetson_base" not in hosts
    assert "jetson-worker" not in hosts


def test_boot_target_is_untouched(host):
    assert host.check_output("systemctl get-default") == "graphical.target"


def test_docker_was_not_configured_or_installed(host):
    assert not host.file("/etc/docker").exists
    assert not host.package("docker.io").is_installed
