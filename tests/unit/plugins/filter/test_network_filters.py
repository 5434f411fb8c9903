"""The filter shells in plugins/filter/network.py: names, pass-through, error wrapping."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.edgeai.jetson_cluster.plugins.filter.network import FilterModule

FILTERS = FilterModule().filters()


def test_every_filter_has_a_doc_file():
    from pathlib import Path

    docs = Path(__file__).resolve().parents[4] / "plugins" / "filter"
    assert sorted(name for name in FILTERS if not (docs / (name + ".yml")).is_file()) == []


def test_find_duplicates_filter_names_the_hosts():
    assert FILTERS["find_duplicates"]({"master": "jetson", "worker1": "jetson", "worker2": "w2"}) == {
        "jetson": ["master", "worker1"]
    }


def test_find_duplicates_filter_turns_bad_input_into_filter_error():
    with pytest.raises(AnsibleFilterError, match="mapping"):
        FILTERS["find_duplicates"]("not a mapping")


def test_network_overlaps_filter_finds_the_reference_collision():
    assert FILTERS["network_overlaps"]({"gateway": "10.42.0.1/24", "pod": "10.42.0.0/16"}) == [
        {"names": ["gateway", "pod"], "cidrs": ["10.42.0.0/24", "10.42.0.0/16"]}
    ]


def test_network_overlaps_filter_error_names_filter_and_value():
    with pytest.raises(AnsibleFilterError, match=r"find_overlaps: pod '10\.42' is not an IPv4 network"):
        FILTERS["network_overlaps"]({"pod": "10.42"})


def test_addresses_outside_filter_takes_the_network_as_argument():
    assert FILTERS["addresses_outside"]({"w1": "192.168.10.2", "w2": "192.168.11.3"}, "192.168.10.0/24") == {
        "w2": "192.168.11.3"
    }


def test_addresses_within_filter_takes_named_networks():
    assert FILTERS["addresses_within"]({"w1": "10.43.0.9"}, {"service": "10.43.0.0/16"}) == {"w1": ["service"]}


def test_network_plan_problems_filter_refuses_a_list():
    with pytest.raises(AnsibleFilterError, match="network_plan_problems expects a mapping"):
        FILTERS["network_plan_problems"](["10.42.0.0/16"])


def test_interface_address_filter_gives_the_network():
    assert FILTERS["interface_address"]("192.168.0.1/16")["network"] == "192.168.0.0/16"


def test_interface_address_filter_names_the_variable_in_errors():
    with pytest.raises(AnsibleFilterError, match="gateway_laptop_address '10.0.0.1' needs a prefix length"):
        FILTERS["interface_address"]("10.0.0.1", "gateway_laptop_address")


# --- network_plan_problems as the roles' preflights call it ---------------------------------

def test_role_preflights_get_the_preflight_roles_sentence_for_an_upper_case_hostname():
    """jetson_base passes only node names; the preflight role the whole plan: same sentence."""
    role_part = FILTERS["network_plan_problems"]({"node_names": {"w1": "Jetson-A"}})
    assert role_part == [
        "hostnames that cannot be k3s node names (lowercase letters, digits, '-' and '.', labels of at most "
        "63 characters; upper case is refused because the kubelet would register a lowercased name): "
        "w1 (Jetson-A)."
    ]


def test_network_plan_problems_filter_refuses_the_removed_ha_switch():
    with pytest.raises(AnsibleFilterError, match="network_plan_problems: .*unknown keys server_ha"):
        FILTERS["network_plan_problems"]({"servers": ["a", "b", "c"], "server_ha": True})
