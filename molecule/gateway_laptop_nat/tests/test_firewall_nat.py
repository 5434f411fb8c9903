"""gw-nft and gw-ipt after gateway_laptop converged with the nftables and iptables backends."""

testinfra_hosts = ["gw-nft", "gw-ipt"]


def test_nat_unit_is_active_and_enabled(host):
    unit = host.service("edgeai-gateway-nat.service")
    assert unit.is_running and unit.is_enabled


def test_network_manager_is_not_installed(host):
    assert not host.package("network-manager").is_installed


def test_ip_forwarding_is_on_and_persisted(host):
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "1"
    assert host.file("/etc/sysctl.d/90-edgeai-gateway.conf").contains("^net.ipv4.ip_forward=1$")
