"""gw-nft: gateway_laptop_nat_backend nftables."""

testinfra_hosts = ["gw-nft"]

LAN = "172.30.23.0/24"


def test_nftables_table_masquerades_the_lan(host):
    table = host.check_output("nft list table ip edgeai_gateway")
    assert "type nat hook postrouting priority srcnat; policy accept;" in table
    assert "ip saddr %s ip daddr != %s masquerade" % (LAN, LAN) in table


def test_no_iptables_rules_of_ours(host):
    assert "EDGEAI-GW" not in host.run("iptables-save").stdout
