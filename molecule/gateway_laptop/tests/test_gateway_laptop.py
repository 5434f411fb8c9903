"""gw-laptop after gateway_laptop converged with NetworkManager's shared mode."""

testinfra_hosts = ["gw-laptop"]

LAN = "172.30.21.0/24"


def nmcli(host, *args):
    return host.check_output("nmcli -g %s" % " ".join(args))


def test_cluster_connection_is_shared_with_the_gateway_address(host):
    assert nmcli(host, "ipv4.method,ipv4.addresses", "connection", "show", "cluster-lan").splitlines() == [
        "shared",
        "172.30.21.1/24",
    ]


def test_cluster_connection_is_active_on_eth1(host):
    assert nmcli(host, "GENERAL.STATE,GENERAL.CONNECTION", "device", "show", "eth1").splitlines() == [
        "100 (connected)",
        "cluster-lan",
    ]
    assert "inet 172.30.21.1/24" in host.check_output("ip -4 addr show dev eth1")


def test_upstream_eth0_is_left_alone(host):
    assert nmcli(host, "GENERAL.STATE", "device", "show", "eth0") == "10 (unmanaged)"
    assert "inet 172.30.20.2/24" in host.check_output("ip -4 addr show dev eth0")
    assert host.check_output("ip route show default").startswith("default via 172.30.20.1 dev eth0")


def test_ip_forwarding_is_on_and_persisted(host):
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "1"
    assert host.file("/etc/sysctl.d/90-edgeai-gateway.conf").contains("^net.ipv4.ip_forward=1$")


def test_masquerade_rule_is_in_iptables_nft(host):
    # firewall-backend=iptables: NetworkManager calls iptables, which on bookworm is iptables-nft,
    # so the rule lives in nftables' "ip nat" table, visible to iptables-nft and nft alike.
    rule = "-A POSTROUTING -s %s ! -d %s -m comment --comment nm-shared-eth1 -j MASQUERADE" % (LAN, LAN)
    assert rule in host.check_output("iptables-nft -t nat -S POSTROUTING").splitlines()
    assert host.check_output("iptables -V").endswith("(nf_tables)")


def test_masquerade_rule_is_not_in_legacy_iptables_or_an_nm_table(host):
    assert "MASQUERADE" not in host.run("iptables-legacy -t nat -S POSTROUTING").stdout
    assert host.run("nft list table ip nm-shared-eth1").rc != 0


def test_network_manager_firewall_backend_is_pinned(host):
    assert host.file("/etc/NetworkManager/conf.d/91-edgeai-firewall.conf").contains("^firewall-backend=iptables$")


def test_dnsmasq_serves_dhcp_and_dns_on_the_lan(host):
    assert host.socket("udp://172.30.21.1:53").is_listening
    assert host.socket("udp://0.0.0.0:67").is_listening
    assert "--listen-address=172.30.21.1" in host.check_output("ps -o args= -C dnsmasq")


def test_chrony_serves_time_without_touching_the_clock(host):
    assert host.service("chrony").is_running
    assert " -x" in host.check_output("ps -o args= -C chronyd")
    assert host.socket("udp://0.0.0.0:123").is_listening
    # The node network (cluster_node_network), which every board's chrony asks.
    assert host.file("/etc/chrony/conf.d/edgeai-gateway.conf").contains("^allow 172.30.21.0/24$")
