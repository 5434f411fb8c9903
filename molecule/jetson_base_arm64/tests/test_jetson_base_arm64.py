"""System state of an arm64 node (under qemu) after jetson_base (molecule/jetson_base_arm64)."""

import json

testinfra_hosts = ["jb-arm64"]


def test_host_is_arm64(host):
    assert host.check_output("dpkg --print-architecture") == "arm64"


def test_hostname_is_set_in_file_and_kernel(host):
    assert host.file("/etc/hostname").content_string == "jetson-arm64\n"
    assert host.check_output("hostname") == "jetson-arm64"


def test_etc_hosts_maps_the_node_to_its_cluster_address(host):
    assert "192.168.10.3 jetson-arm64" in host.file("/etc/hosts").content_string.splitlines()


def test_boots_to_multi_user_target(host):
    assert host.check_output("systemctl get-default") == "multi-user.target"


def test_docker_package_is_installed_for_arm64(host):
    assert host.package("docker.io").is_installed
    assert host.check_output("dpkg-query -W -f '${Architecture}' docker.io") == "arm64"


def test_daemon_json_holds_the_netfilter_free_options(host):
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon == {"iptables": False, "ip6tables": False, "bridge": "none"}


def test_dockerd_runs_and_answers(host):
    assert host.service("docker").is_running
    assert host.service("docker").is_enabled
    with host.sudo():
        assert host.check_output("docker info --format '{{.Architecture}}'") == "aarch64"
