"""System state of a (fake) Jetson Nano after jetson_base (molecule/jetson_base_tegra).

The scenario runs converge twice (converge, idempotence), so anything logged once was done
by the first run only.
"""

import json

testinfra_hosts = ["jb-tegra"]


def test_power_mode_was_set_once_across_both_runs(host):
    assert host.file("/var/log/fake-nvpmodel.log").content_string.splitlines() == ["-m 0"]


def test_power_mode_is_maxn(host):
    assert host.check_output("nvpmodel -q").splitlines()[-2:] == ["NV Power Mode: MAXN", "0"]


def test_jetson_clocks_unit_runs_the_tool_at_boot(host):
    unit = host.file("/etc/systemd/system/jetson-clocks.service").content_string
    assert "ExecStart=/usr/bin/jetson_clocks\n" in unit
    assert "WantedBy=multi-user.target" in unit
    clocks = host.service("jetson-clocks")
    assert clocks.is_enabled
    assert clocks.is_running


def test_jetson_clocks_ran(host):
    assert host.file("/var/log/fake-jetson_clocks.log").content_string.startswith("jetson_clocks ran ")


def test_daemon_json_makes_nvidia_the_default_runtime_and_keeps_other_keys(host):
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon == {
        "default-runtime": "nvidia",
        "log-opts": {"max-size": "10m"},
        "runtimes": {"nvidia": {"path": "nvidia-container-runtime", "runtimeArgs": []}},
    }


def test_dockerd_runs_with_nvidia_as_default_runtime(host):
    with host.sudo():
        assert host.check_output("docker info --format '{{.DefaultRuntime}}'") == "nvidia"


def test_zram_unit_is_masked(host):
    assert host.run("systemctl is-enabled nvzramconfig.service").stdout.strip() == "masked"
    assert host.file("/etc/systemd/system/nvzramconfig.service").linked_to == "/dev/null"


def test_vendor_zram_unit_is_diverted_not_deleted(host):
    assert "/etc/systemd/nvzramconfig.service.distrib" in host.check_output(
        "dpkg-divert --list /etc/systemd/system/nvzramconfig.service"
    )
    assert "Description=ZRAM configuration" in host.file(
        "/etc/systemd/nvzramconfig.service.distrib"
    ).content_string


def test_fstab_swap_entry_is_commented_out(host):
    lines = host.file("/etc/fstab").content_string.splitlines()
    assert "/swapfile none swap sw 0 0" not in lines
    assert "# /swapfile none swap sw 0 0  # disabled by jetson_base" in lines


def test_fstab_other_lines_are_untouched(host):
    lines = host.file("/etc/fstab").content_string.splitlines()
    assert "/dev/root / ext4 defaults 0 1" in lines
    assert "# /old.swap none swap sw 0 0" in lines
    assert "LABEL=data /data ext4 defaults,nofail 0 2" in lines


def test_boots_headless_by_default_on_tegra(host):
    assert host.check_output("systemctl get-default") == "multi-user.target"


def test_default_user_is_in_the_docker_group(host):
    assert "docker" in host.user("jetson").groups


def test_hostname_is_set(host):
    assert host.check_output("hostname") == "jetson-worker1"
    assert "192.168.10.2 jetson-worker1" in host.file("/etc/hosts").content_string.splitlines()
