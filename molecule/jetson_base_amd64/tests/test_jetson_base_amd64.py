"""System state of a non-Tegra amd64 node after jetson_base (molecule/jetson_base_amd64)."""

import json

testinfra_hosts = ["jb-amd64"]

CONNECTION = "Wired connection 1"


def nm_property(host, prop):
    return host.check_output("nmcli --get-values %s connection show %s", prop, CONNECTION)


def test_hostname_file_holds_the_inventory_hostname(host):
    assert host.file("/etc/hostname").content_string == "jetson-amd64\n"


def test_running_hostname_is_the_inventory_hostname(host):
    assert host.check_output("hostname") == "jetson-amd64"


def test_etc_hosts_maps_every_cluster_node_to_its_address(host):
    lines = host.file("/etc/hosts").content_string.splitlines()
    assert "172.30.11.20 jetson-amd64" in lines
    assert "172.30.11.21 jetson-peer" in lines


def test_own_hostname_resolves_to_the_cluster_address(host):
    assert host.check_output("getent hosts jetson-amd64").split()[0] == "172.30.11.20"


def test_existing_profile_gets_the_static_address_gateway_and_dns(host):
    assert nm_property(host, "ipv4.method") == "manual"
    assert nm_property(host, "ipv4.addresses") == "172.30.11.20/24"
    assert nm_property(host, "ipv4.gateway") == "172.30.11.1"
    assert nm_property(host, "ipv4.dns") == "172.30.11.1,9.9.9.9"


def test_no_second_profile_competes_for_the_interface(host):
    profiles = host.check_output("nmcli --get-values NAME,TYPE,DEVICE connection show").splitlines()
    assert [p for p in profiles if ":802-3-ethernet:" in p] == [CONNECTION + ":802-3-ethernet:eth1"]


def test_static_address_is_active_on_eth1(host):
    addresses = host.check_output("ip -4 -o addr show dev eth1")
    assert "inet 172.30.11.20/24" in addresses
    assert "172.30.11.10/" not in addresses


def test_docker_path_eth0_is_untouched(host):
    assert "inet 172.30.10.10/24" in host.check_output("ip -4 -o addr show dev eth0")
    assert host.check_output("nmcli --get-values GENERAL.STATE device show eth0").startswith("10 ")


def test_boots_to_multi_user_target(host):
    assert host.check_output("systemctl get-default") == "multi-user.target"


# Swap goes through prepare.yml's stand-ins (the container cannot have swap of its own): a
# /proc/swaps listing /swapfile and a swapoff that records its calls and empties that listing.


def test_role_turned_swap_off_once(host):
    # Once: by converge; idempotence found no swap area left and did not call it again.
    assert host.file("/var/lib/jb-swap-standin/calls").content_string == "--all\n"


def test_no_swap_area_is_left(host):
    assert host.file("/proc/swaps").content_string.splitlines()[1:] == []


def test_fstab_swap_line_is_commented_out(host):
    lines = host.file("/etc/fstab").content_string.splitlines()
    assert "# /swapfile none swap sw 0 0  # disabled by jetson_base" in lines
    assert "/swapfile none swap sw 0 0" not in lines


def test_docker_runs_and_starts_at_boot(host):
    docker = host.service("docker")
    assert docker.is_running
    assert docker.is_enabled


def test_daemon_json_holds_exactly_the_requested_keys(host):
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon == {"log-driver": "local", "log-opts": {"max-size": "10m"}}


def test_dockerd_uses_daemon_json(host):
    # "local" is not Docker's default logging driver (json-file): only the role's daemon.json
    # and its restart make dockerd use it.
    with host.sudo():
        assert host.check_output("docker info --format '{{.LoggingDriver}}'") == "local"


def test_no_nvidia_runtime_outside_tegra(host):
    with host.sudo():
        assert host.check_output("docker info --format '{{.DefaultRuntime}}'") == "runc"


def test_admin_user_is_in_the_docker_group(host):
    assert "docker" in host.user("jbadmin").groups


def test_no_jetson_clocks_unit_outside_tegra(host):
    assert not host.file("/etc/systemd/system/jetson-clocks.service").exists


def test_chrony_syncs_from_the_gateway_and_steps_a_far_off_clock(host):
    conf = host.file("/etc/chrony/chrony.conf").content_string.splitlines()
    # The gateway's address, from cluster_gateway_address 172.30.11.1/24; no other source.
    assert [line for line in conf if line.startswith(("server ", "pool "))] == ["server 172.30.11.1 iburst"]
    assert "makestep 1.0 3" in conf
    assert host.service("chrony").is_running and host.service("chrony").is_enabled
    sources = [line.split()[1] for line in host.check_output("chronyc -n sources").splitlines() if line[:1] == "^"]
    assert sources == ["172.30.11.1"]


def test_chrony_never_sets_the_containers_clock(host):
    # A container shares the machine's clock: chronyd runs with -x, and without CAP_SYS_TIME.
    assert " -x" in host.check_output("ps -o args= -C chronyd")
    bounding = int(host.check_output("sed -n 's/^CapBnd:\\t//p' /proc/1/status"), 16)
    assert not bounding & (1 << 25)  # CAP_SYS_TIME (linux/capability.h)
    assert "rtcsync" not in host.file("/etc/chrony/chrony.conf").content_string


def test_boot_waits_for_the_first_sync_before_time_sync_target(host):
    unit = host.file("/etc/systemd/system/edgeai-time-sync-wait.service").content_string
    assert "Before=time-sync.target" in unit and "ExecStart=/usr/bin/chronyc waitsync 18 0 0 10" in unit
    assert host.service("edgeai-time-sync-wait.service").is_enabled
