"""gw-ipt: gateway_laptop_nat_backend iptables."""

testinfra_hosts = ["gw-ipt"]

LAN = "172.30.24.0/24"


def test_iptables_chain_masquerades_the_lan(host):
    assert host.check_output("iptables -t nat -S EDGEAI-GW-POSTROUTING").splitlines() == [
        "-N EDGEAI-GW-POSTROUTING",
        "-A EDGEAI-GW-POSTROUTING -s %s ! -d %s -j MASQUERADE" % (LAN, LAN),
    ]


def test_chains_are_hooked_exactly_once_after_restarts(host):
    postrouting = host.check_output("iptables -t nat -S POSTROUTING").splitlines()
    assert postrouting.count("-A POSTROUTING -j EDGEAI-GW-POSTROUTING") == 1
    forward = host.check_output("iptables -S FORWARD").splitlines()
    assert forward[:2] == ["-P FORWARD ACCEPT", "-A FORWARD -j EDGEAI-GW-FORWARD"]
    assert forward.count("-A FORWARD -j EDGEAI-GW-FORWARD") == 1


def test_forward_chain_lets_the_lan_out_and_answers_back(host):
    assert host.check_output("iptables -S EDGEAI-GW-FORWARD").splitlines()[1:] == [
        "-A EDGEAI-GW-FORWARD -s %s -i eth1 -j ACCEPT" % LAN,
        "-A EDGEAI-GW-FORWARD -d %s -o eth1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" % LAN,
    ]
