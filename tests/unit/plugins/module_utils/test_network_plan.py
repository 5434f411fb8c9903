"""Unit tests for plugins/module_utils/network_plan.py (the preflight's logic)."""

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.network_plan import (
    NetworkPlanError,
    addresses_outside,
    addresses_within,
    describe_interface_address,
    find_duplicates,
    find_overlaps,
    network_plan_problems,
    parse_address,
    parse_interface_address,
    parse_network,
    valid_node_name,
)

ROOT = Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "inventory" / "example"


def _example_plan():
    """The plan of the reference build, read from inventory/example."""
    network = yaml.safe_load((EXAMPLE / "group_vars" / "all" / "network.yml").read_text())
    groups = yaml.safe_load((EXAMPLE / "hosts.yml").read_text())["all"]["children"]
    servers = groups["jetson"]["children"]["k3s_server"]["hosts"]
    agents = groups["jetson"]["children"]["k3s_agents"]["hosts"]
    nodes = dict(servers, **agents)
    return {
        "gateway_address": network["cluster_gateway_address"],
        "node_network": network["cluster_node_network"],
        "pod_cidr": network["cluster_pod_cidr"],
        "service_cidr": network["cluster_service_cidr"],
        "nfs_export_network": network["cluster_nfs_export_network"],
        "node_ips": {host: hostvars["cluster_node_ip"] for host, hostvars in nodes.items()},
        "node_names": {host: host for host in nodes},
        "node_hosts": {host: hostvars.get("ansible_host") for host, hostvars in nodes.items()},
        "servers": sorted(servers),
        "agents": sorted(agents),
        "gateways": sorted(groups["gateway"]["hosts"]),
        "nfs_servers": sorted(groups["nfs_server"]["hosts"]),
        "nfs_clients": sorted(agents),
    }


REFERENCE = _example_plan()


def _plan(**changes):
    plan = copy.deepcopy(REFERENCE)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(plan.get(key), dict):
            plan[key].update(value)
        else:
            plan[key] = value
    return plan


# --- find_duplicates ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "values, expected",
    [
        ({}, {}),
        ({"a": "x", "b": "y"}, {}),
        ({"a": "x", "b": "x", "c": "y"}, {"x": ["a", "b"]}),
        ({"w2": "10.0.0.2", "w1": "10.0.0.2", "w3": "10.0.0.2"}, {"10.0.0.2": ["w1", "w2", "w3"]}),
        ({"a": None, "b": None, "c": "", "d": ""}, {}),
    ],
    ids=["empty", "unique", "one-pair", "three-share-sorted", "unset-values-ignored"],
)
def test_find_duplicates(values, expected):
    assert find_duplicates(values) == expected


def test_find_duplicates_rejects_a_list():
    with pytest.raises(TypeError, match="mapping of host -> value"):
        find_duplicates(["a", "b"])


# --- parsing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["192.168.10.2", "10.42.0.1", "0.0.0.0"])
def test_parse_address_accepts_plain_ipv4(value):
    assert str(parse_address(value)) == value


@pytest.mark.parametrize(
    "value",
    ["192.168.10", "10.0.0.256", "010.0.0.1", " 10.0.0.1", "192.168.10.2/24", "fe80::1", "", None, 10],
    ids=["three-octets", "octet-too-big", "leading-zero", "leading-space", "with-prefix", "ipv6",
         "empty", "none", "integer"],
)
def test_parse_address_refuses_anything_else(value):
    with pytest.raises(NetworkPlanError, match="not an IPv4 address"):
        parse_address(value, "cluster_node_ip")


@pytest.mark.parametrize(
    "value, expected",
    [("10.42.0.0/16", "10.42.0.0/16"), ("192.168.0.1/16", "192.168.0.0/16"), ("10.0.0.1/255.255.0.0", "10.0.0.0/16")],
    ids=["network", "host-bits-dropped", "netmask"],
)
def test_parse_network_names_the_network(value, expected):
    assert str(parse_network(value)) == expected


@pytest.mark.parametrize("value", ["10.42.0.0", "10.42.0.0/33", "10.42/16", "fd00::/64", None, ""],
                         ids=["no-prefix", "prefix-too-long", "short-form", "ipv6", "none", "empty"])
def test_parse_network_refuses_anything_else(value):
    with pytest.raises(NetworkPlanError, match="cluster_pod_cidr .* not an IPv4 network in CIDR notation"):
        parse_network(value, "cluster_pod_cidr")


def test_parse_interface_address_keeps_host_and_network():
    interface = parse_interface_address("192.168.0.1/16")
    assert (str(interface.ip), str(interface.cidr)) == ("192.168.0.1", "192.168.0.0/16")


@pytest.mark.parametrize(
    "value, message",
    [
        ("192.168.0.1", "needs a prefix length"),
        ("192.168.0.0/16", "is the network or broadcast address of 192.168.0.0/16; use a host address such as 192.168.0.1/16"),
        ("192.168.255.255/16", "is the network or broadcast address"),
        ("192.168.0.1/31", "leaves no room for other hosts"),
        ("laptop/24", "not an IPv4 address with prefix"),
    ],
    ids=["no-prefix", "network-address", "broadcast-address", "slash-31", "garbage"],
)
def test_parse_interface_address_refuses_unusable_addresses(value, message):
    with pytest.raises(NetworkPlanError, match=message):
        parse_interface_address(value, "cluster_gateway_address")


# --- building blocks ---------------------------------------------------------------------------

def test_find_overlaps_reports_the_reference_builds_collision():
    overlaps = find_overlaps({"gateway": "10.42.0.1/24", "cluster_pod_cidr": "10.42.0.0/16",
                              "cluster_service_cidr": "10.43.0.0/16"})
    assert overlaps == [{"names": ["gateway", "cluster_pod_cidr"], "cidrs": ["10.42.0.0/24", "10.42.0.0/16"]}]


@pytest.mark.parametrize(
    "networks, expected_pairs",
    [
        ({"a": "10.42.0.0/16", "b": "10.43.0.0/16"}, []),
        ({"a": "10.42.0.0/16", "b": "10.42.255.0/24"}, [["a", "b"]]),
        ({"a": "10.0.0.0/8", "b": "10.42.0.0/16", "c": "10.43.0.0/16"}, [["a", "b"], ["a", "c"]]),
        ({"a": "192.168.0.0/24", "b": "192.168.1.0/24"}, []),
        ({"a": "192.168.0.0/23", "b": "192.168.1.0/24"}, [["a", "b"]]),
        ({"only": "10.0.0.0/8"}, []),
    ],
    ids=["adjacent-apart", "contained", "one-contains-two", "neighbours", "last-address-shared", "single"],
)
def test_find_overlaps_pairs(networks, expected_pairs):
    assert [overlap["names"] for overlap in find_overlaps(networks)] == expected_pairs


def test_find_overlaps_names_the_bad_value():
    with pytest.raises(NetworkPlanError, match="cluster_service_cidr '10.43.0.0' is not an IPv4 network"):
        find_overlaps({"cluster_pod_cidr": "10.42.0.0/16", "cluster_service_cidr": "10.43.0.0"})


@pytest.mark.parametrize(
    "addresses, network, expected",
    [
        ({"w1": "192.168.10.2", "w2": "192.168.10.3"}, "192.168.10.0/24", {}),
        ({"w1": "192.168.10.2", "w2": "192.168.11.3"}, "192.168.10.0/24", {"w2": "192.168.11.3"}),
        ({"w1": "192.168.10.2"}, "192.168.0.1/16", {}),
        ({}, "192.168.10.0/24", {}),
    ],
    ids=["all-inside", "one-outside", "interface-address-as-network", "no-hosts"],
)
def test_addresses_outside(addresses, network, expected):
    assert addresses_outside(addresses, network) == expected


def test_addresses_outside_names_the_host_with_a_bad_address():
    with pytest.raises(NetworkPlanError, match="worker2's address '192.168.10' is not an IPv4 address"):
        addresses_outside({"worker2": "192.168.10"}, "192.168.10.0/24")


@pytest.mark.parametrize(
    "addresses, expected",
    [
        ({"w1": "192.168.10.2"}, {}),
        ({"w1": "10.42.0.5", "w2": "192.168.10.3"}, {"w1": ["cluster_pod_cidr"]}),
        ({"w1": "10.43.255.254"}, {"w1": ["cluster_service_cidr", "wide"]}),
    ],
    ids=["outside-all", "inside-one", "inside-two-sorted"],
)
def test_addresses_within(addresses, expected):
    networks = {"cluster_pod_cidr": "10.42.0.0/16", "cluster_service_cidr": "10.43.0.0/16", "wide": "10.43.0.0/16"}
    assert addresses_within(addresses, networks) == expected


@pytest.mark.parametrize(
    "name, valid",
    [("jetson-master", True), ("worker1", True), ("node.lan", True), ("worker_1", False),
     ("-worker", False), ("worker-", False), ("a" * 64, False), ("", False), ("jetson master", False)],
)
def test_valid_node_name(name, valid):
    assert valid_node_name(name) is valid


# --- the whole plan ----------------------------------------------------------------------------

def test_reference_inventory_has_no_problems():
    assert network_plan_problems(REFERENCE) == []


NAME_RULE = ("hostnames that cannot be k3s node names (lowercase letters, digits, '-' and '.', labels of at "
             "most 63 characters; upper case is refused because the kubelet would register a lowercased "
             "name): ")

OVERLAP_HINT = ("the two ranges must not share addresses (k3s routes its pod and service ranges "
                "inside the cluster, away from the LAN).")

PROBLEMS = [
    pytest.param(
        dict(gateway_address="10.42.0.1/24", node_network="10.42.0.0/24",
             node_ips={"jetson-master": "10.42.0.10", "jetson-worker1": "10.42.0.11", "jetson-worker2": "10.42.0.12"},
             nfs_export_network="10.42.0.0/24"),
        [
            "the gateway network 10.42.0.0/24 (cluster_gateway_address 10.42.0.1/24) overlaps "
            "cluster_pod_cidr 10.42.0.0/16: " + OVERLAP_HINT,
            "cluster_node_network 10.42.0.0/24 overlaps cluster_pod_cidr 10.42.0.0/16: " + OVERLAP_HINT,
            "cluster_node_ip inside cluster_pod_cidr 10.42.0.0/16, which k3s keeps for itself: "
            "jetson-master (10.42.0.10), jetson-worker1 (10.42.0.11), jetson-worker2 (10.42.0.12).",
        ],
        id="reference-build-10.42.0.1/24-gateway",
    ),
    pytest.param(
        dict(service_cidr="10.42.128.0/17"),
        ["cluster_pod_cidr 10.42.0.0/16 overlaps cluster_service_cidr 10.42.128.0/17: " + OVERLAP_HINT],
        id="pod-and-service-overlap",
    ),
    pytest.param(
        dict(service_cidr="192.168.10.0/24"),
        [
            "the gateway network 192.168.0.0/16 (cluster_gateway_address 192.168.0.1/16) overlaps "
            "cluster_service_cidr 192.168.10.0/24: " + OVERLAP_HINT,
            "cluster_node_network 192.168.10.0/24 overlaps cluster_service_cidr 192.168.10.0/24: " + OVERLAP_HINT,
            "cluster_node_ip inside cluster_service_cidr 192.168.10.0/24, which k3s keeps for itself: "
            "jetson-master (192.168.10.1), jetson-worker1 (192.168.10.2), jetson-worker2 (192.168.10.3).",
        ],
        id="service-cidr-on-the-lan",
    ),
    pytest.param(
        dict(node_network="172.16.10.0/24", node_ips={"jetson-worker2": "172.16.10.3"}),
        [
            "cluster_node_network 172.16.10.0/24 is not inside the gateway network 192.168.0.0/16 "
            "(cluster_gateway_address 192.168.0.1/16): the boards could not reach the laptop.",
            "cluster_node_ip outside the gateway network 192.168.0.0/16 (cluster_gateway_address "
            "192.168.0.1/16): jetson-worker2 (172.16.10.3).",
            "cluster_node_ip outside cluster_node_network 172.16.10.0/24: jetson-master (192.168.10.1), "
            "jetson-worker1 (192.168.10.2).",
            "cluster_nfs_export_network 192.168.10.0/24 does not contain these NFS clients, which could not "
            "mount the dataset: jetson-worker2 (172.16.10.3).",
        ],
        id="node-network-outside-gateway",
    ),
    pytest.param(
        dict(node_ips={"jetson-worker2": "192.168.20.3"}),
        [
            "cluster_node_ip outside cluster_node_network 192.168.10.0/24: jetson-worker2 (192.168.20.3).",
            "cluster_nfs_export_network 192.168.10.0/24 does not contain these NFS clients, which could not "
            "mount the dataset: jetson-worker2 (192.168.20.3).",
        ],
        id="node-ip-outside-node-network",
    ),
    pytest.param(
        dict(node_ips={"jetson-worker2": "192.168.0.1"}, node_network="192.168.0.0/24",
             nfs_export_network="192.168.0.0/24"),
        [
            "cluster_node_ip outside cluster_node_network 192.168.0.0/24: jetson-master (192.168.10.1), "
            "jetson-worker1 (192.168.10.2).",
            "cluster_node_ip 192.168.0.1 is the gateway's own address (cluster_gateway_address): jetson-worker2.",
            "cluster_nfs_export_network 192.168.0.0/24 does not contain these NFS clients, which could not "
            "mount the dataset: jetson-worker1 (192.168.10.2).",
        ],
        id="node-takes-the-gateway-address",
    ),
    pytest.param(
        dict(gateway_address="192.168.10.1/24", node_ips={"jetson-master": "192.168.10.255"}),
        [
            "cluster_node_ip is the network or broadcast address of the gateway network 192.168.10.0/24 "
            "(cluster_gateway_address 192.168.10.1/24): jetson-master (192.168.10.255).",
        ],
        id="node-on-broadcast-address",
    ),
    pytest.param(
        dict(node_ips={"jetson-worker2": "192.168.10.2"}),
        ["duplicate cluster_node_ip 192.168.10.2 on jetson-worker1, jetson-worker2."],
        id="duplicate-node-ip",
    ),
    pytest.param(
        dict(node_ips={"jetson-worker1": "192.168.10", "jetson-worker2": None}),
        ["cluster_node_ip is missing or not an IPv4 address on: jetson-worker1 ('192.168.10'), jetson-worker2 (unset)."],
        id="invalid-node-ips",
    ),
    pytest.param(
        dict(node_names={"jetson-worker1": "jetson", "jetson-worker2": "jetson"}),
        ["duplicate hostname jetson on jetson-worker1, jetson-worker2: k3s node names must be unique "
         "(a second node with the same name replaces the first)."],
        id="duplicate-hostname",
    ),
    pytest.param(
        dict(node_names={"jetson-worker1": "jetson_worker1"}),
        [NAME_RULE + "jetson-worker1 (jetson_worker1)."],
        id="invalid-hostname",
    ),
    pytest.param(
        # Upper case is refused, not folded: the kubelet would register "jetson-a" for "Jetson-A".
        dict(node_names={"jetson-worker1": "Jetson-A", "jetson-worker2": "jetson-a"}),
        [NAME_RULE + "jetson-worker1 (Jetson-A)."],
        id="upper-case-hostname",
    ),
    pytest.param(
        dict(node_hosts={"jetson-worker2": "192.168.10.2"}),
        ["duplicate ansible_host 192.168.10.2 on jetson-worker1, jetson-worker2: two inventory entries for one board."],
        id="duplicate-ansible-host",
    ),
    pytest.param(
        dict(servers=[]),
        ["k3s_server holds no host: put exactly one board (the control plane) in the k3s_server group."],
        id="no-server",
    ),
    pytest.param(
        dict(servers=["jetson-master", "jetson-worker1"]),
        [
            "k3s_server must hold exactly one host (the collection runs one k3s server, no HA control "
            "plane); it holds 2: jetson-master, jetson-worker1.",
            "hosts in both k3s_server and k3s_agents (each would install a k3s server: the 'all nodes "
            "became masters' failure): jetson-worker1.",
        ],
        id="two-servers-one-also-agent",
    ),
    pytest.param(
        dict(servers=["jetson-master", "jetson-worker1", "jetson-worker2"], agents=[], nfs_clients=[]),
        ["k3s_server must hold exactly one host (the collection runs one k3s server, no HA control "
         "plane); it holds 3: jetson-master, jetson-worker1, jetson-worker2."],
        id="three-servers-no-ha",
    ),
    pytest.param(
        dict(agents=["jetson-master", "jetson-worker1", "jetson-worker2"]),
        ["hosts in both k3s_server and k3s_agents (each would install a k3s server: the 'all nodes "
         "became masters' failure): jetson-master."],
        id="server-also-agent",
    ),
    pytest.param(
        dict(nfs_export_network="192.168.10.0/31"),
        ["cluster_nfs_export_network 192.168.10.0/31 does not contain these NFS clients, which could not "
         "mount the dataset: jetson-worker1 (192.168.10.2), jetson-worker2 (192.168.10.3)."],
        id="nfs-export-misses-agents",
    ),
    pytest.param(
        dict(gateways=["laptop", "laptop2"], nfs_servers=["jetson-master", "jetson-worker1"]),
        [
            "gateway must hold at most one host (the laptop); it holds 2: laptop, laptop2.",
            "nfs_server must hold at most one host; it holds 2: jetson-master, jetson-worker1.",
        ],
        id="two-gateways-two-nfs-servers",
    ),
    pytest.param(
        dict(gateway_address="192.168.0.1", pod_cidr="10.42.0.0"),
        [
            "cluster_gateway_address '192.168.0.1' needs a prefix length, e.g. 192.168.0.1/16: it is an "
            "address and the network it serves.",
            "cluster_pod_cidr '10.42.0.0' is not an IPv4 network in CIDR notation such as 10.42.0.0/16.",
        ],
        id="unparseable-ranges",
    ),
]


@pytest.mark.parametrize("changes, expected", PROBLEMS)
def test_network_plan_problems(changes, expected):
    assert network_plan_problems(_plan(**changes)) == expected


def test_unset_hostname_means_the_inventory_name():
    problems = network_plan_problems(_plan(node_names={"jetson-worker1": None, "jetson-worker2": "jetson-worker1"}))
    assert problems == [
        "duplicate hostname jetson-worker1 on jetson-worker1, jetson-worker2: k3s node names must be unique "
        "(a second node with the same name replaces the first)."
    ]


def test_ha_is_not_a_plan_key():
    with pytest.raises(TypeError, match="unknown keys server_ha"):
        network_plan_problems(_plan(server_ha=True))


# --- the same rules for a role's own preflight (a part of the plan) ---------------------------

@pytest.mark.parametrize(
    "plan, expected",
    [
        ({}, []),
        ({"node_names": {"a": "Jetson-A"}}, [NAME_RULE + "a (Jetson-A)."]),
        ({"servers": ["m1", "m2"], "agents": ["m2"]},
         ["k3s_server must hold exactly one host (the collection runs one k3s server, no HA control plane); "
          "it holds 2: m1, m2.",
          "hosts in both k3s_server and k3s_agents (each would install a k3s server: the 'all nodes became "
          "masters' failure): m2."]),
        # k3s_server's own check: its node address against its own ranges, named by its variable.
        ({"node_ips": {"m1": "10.42.0.5"}, "pod_cidr": "10.42.0.0/16", "service_cidr": "10.43.0.0/16",
          "node_ip_variable": "k3s_server_node_ip"},
         ["k3s_server_node_ip inside cluster_pod_cidr 10.42.0.0/16, which k3s keeps for itself: m1 (10.42.0.5)."]),
        ({"node_ips": {"m1": "not-an-ip"}, "node_ip_variable": "k3s_agent_node_ip"},
         ["k3s_agent_node_ip is missing or not an IPv4 address on: m1 ('not-an-ip')."]),
        # jetson_base's static address: inside the gateway network, not the gateway itself.
        ({"gateway_address": "192.168.0.1/16", "node_ips": {"w1": "192.168.0.1"},
          "node_ip_variable": "jetson_base_static_ip"},
         ["jetson_base_static_ip 192.168.0.1 is the gateway's own address (cluster_gateway_address): w1."]),
        # nfs_server's client check: the export's client list (addresses or CIDRs).
        ({"nfs_export_network": ["192.168.10.0/25", "192.168.10.200"], "nfs_clients": ["w1", "w2", "w3"],
          "node_ips": {"w1": "192.168.10.2", "w2": "192.168.10.200", "w3": "192.168.10.201"}},
         ["cluster_nfs_export_network 192.168.10.0/25, 192.168.10.200/32 does not contain these NFS clients, "
          "which could not mount the dataset: w3 (192.168.10.201)."]),
    ],
    ids=["empty", "name", "servers", "k3s-server-node-ip", "agent-node-ip", "static-ip-is-gateway", "nfs-clients"],
)
def test_partial_plans_apply_the_same_rules(plan, expected):
    assert network_plan_problems(plan) == expected


def test_every_rule_runs_on_the_full_plan():
    """The preflight role passes every key, so no rule is skipped for the whole inventory."""
    plan = _plan(servers=[], node_names={"jetson-worker1": "Worker"}, pod_cidr="10.43.0.0/16",
                 node_ips={"jetson-worker2": "bogus"}, nfs_export_network="192.168.10.0/31")
    problems = network_plan_problems(plan)
    assert [problem.split(" ")[0] for problem in problems] == [
        "k3s_server", "hostnames", "cluster_node_ip", "cluster_pod_cidr", "cluster_nfs_export_network",
    ]


def test_nfs_checks_are_skipped_without_an_nfs_server():
    assert network_plan_problems(_plan(nfs_servers=[], nfs_export_network="not a network")) == []


def test_a_bad_node_address_does_not_hide_range_problems():
    problems = network_plan_problems(_plan(node_ips={"jetson-worker2": "bogus"}, service_cidr="10.42.0.0/16"))
    assert problems == [
        "cluster_node_ip is missing or not an IPv4 address on: jetson-worker2 ('bogus').",
        "cluster_pod_cidr 10.42.0.0/16 overlaps cluster_service_cidr 10.42.0.0/16: " + OVERLAP_HINT,
    ]


def test_network_plan_problems_refuses_unknown_keys():
    with pytest.raises(TypeError, match="unknown keys pod_cidrs"):
        network_plan_problems(_plan(pod_cidrs="10.42.0.0/16"))


# --- describe_interface_address ----------------------------------------------------------------

@pytest.mark.parametrize(
    "value, expected",
    [
        ("192.168.0.1/16", {"address": "192.168.0.1", "prefix": 16, "network": "192.168.0.0/16",
                            "netmask": "255.255.0.0", "cidr": "192.168.0.1/16"}),
        ("172.30.21.1/255.255.255.0", {"address": "172.30.21.1", "prefix": 24, "network": "172.30.21.0/24",
                                       "netmask": "255.255.255.0", "cidr": "172.30.21.1/24"}),
    ],
    ids=["reference-gateway", "netmask-form"],
)
def test_describe_interface_address(value, expected):
    assert describe_interface_address(value) == expected


def test_describe_interface_address_refuses_a_bare_address():
    with pytest.raises(NetworkPlanError, match="needs a prefix length"):
        describe_interface_address("192.168.0.1")


# --- fuzz: whatever an inventory holds, a list of sentences or a TypeError, never a traceback ---

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20),
                    st.sampled_from(["10.42.0.0/16", "192.168.0.1/16", "192.168.10.2", "Jetson", "a/33", "::1"]),
                    st.lists(st.text(max_size=8), max_size=3))
_HOSTS = st.sampled_from(["jetson-master", "jetson-worker1", "w2"])


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "gateway_address": _VALUES, "node_network": _VALUES, "pod_cidr": _VALUES, "service_cidr": _VALUES,
    "nfs_export_network": _VALUES,
    "node_ips": st.dictionaries(_HOSTS, _VALUES, max_size=3),
    "node_names": st.dictionaries(_HOSTS, _VALUES, max_size=3),
    "node_hosts": st.dictionaries(_HOSTS, st.text(max_size=8), max_size=3),
    "servers": st.lists(_HOSTS, max_size=3), "agents": st.lists(_HOSTS, max_size=3),
    "nfs_servers": st.lists(_HOSTS, max_size=2), "nfs_clients": st.lists(_HOSTS, max_size=3),
}))
def test_any_partial_plan_gives_sentences(plan):
    problems = network_plan_problems(plan)
    assert isinstance(problems, list) and all(isinstance(p, str) and p.endswith(".") for p in problems)
