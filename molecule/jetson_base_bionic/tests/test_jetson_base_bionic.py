"""An Ubuntu 18.04 (JetPack 4.x userspace) node after bootstrap_python + jetson_base
(molecule/jetson_base_bionic)."""

import json

testinfra_hosts = ["jb-bionic"]

CONNECTION = "Wired connection 1"


def test_host_runs_ubuntu_18_04(host):
    assert host.system_info.distribution == "ubuntu"
    assert host.system_info.release == "18.04"


def test_bootstrap_installed_python_3_8(host):
    assert host.check_output("/usr/bin/python3.8 --version").startswith("Python 3.8.")


def test_system_python_is_left_alone(host):
    assert host.check_output("/usr/bin/python3 --version").startswith("Python 3.6.")


def test_hostname_is_set_in_file_and_kernel(host):
    assert host.file("/etc/hostname").content_string == "jetson-bionic\n"
    assert host.check_output("hostname") == "jetson-bionic"


def test_etc_hosts_maps_the_node_to_its_cluster_address(host):
    assert "172.30.16.20 jetson-bionic" in host.file("/etc/hosts").content_string.splitlines()


def test_networkmanager_1_10_profile_gets_the_static_address(host):
    assert host.check_output("nmcli --version").startswith("nmcli tool, version 1.10.")
    assert host.check_output("nmcli --get-values ipv4.addresses connection show %s", CONNECTION) == "172.30.16.20/24"
    assert host.check_output("nmcli --get-values ipv4.gateway connection show %s", CONNECTION) == "172.30.16.1"
    assert host.check_output("nmcli --get-values ipv4.dns connection show %s", CONNECTION) == "172.30.16.1"


def test_static_address_is_active_on_eth1(host):
    assert "inet 172.30.16.20/24" in host.check_output("ip -4 -o addr show dev eth1")


def test_docker_path_eth0_is_untouched(host):
    assert "inet 172.30.15.10/24" in host.check_output("ip -4 -o addr show dev eth0")


def test_boots_to_multi_user_target(host):
    assert host.check_output("systemctl get-default") == "multi-user.target"


def test_role_started_and_enabled_the_preinstalled_docker(host):
    # prepare.yml installed docker.io, then stopped and disabled it.
    assert host.service("docker").is_running
    assert host.service("docker").is_enabled


def test_dockerd_uses_the_roles_daemon_json(host):
    # "local" is not Docker's default logging driver (json-file).
    assert json.loads(host.file("/etc/docker/daemon.json").content_string) == {"log-driver": "local"}
    with host.sudo():
        assert host.check_output("docker info --format '{{.LoggingDriver}}'") == "local"


def test_default_user_is_in_the_docker_group(host):
    assert "docker" in host.user("jetson").groups
