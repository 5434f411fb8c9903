import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.edgeai.jetson_cluster.plugins.filter.network import FilterModule


def test_find_duplicates_filter_names_the_hosts():
    find = FilterModule().filters()["find_duplicates"]
    assert find({"master": "jetson", "worker1": "jetson", "worker2": "w2"}) == {
        "jetson": ["master", "worker1"]
    }


def test_find_duplicates_filter_turns_bad_input_into_filter_error():
    find = FilterModule().filters()["find_duplicates"]
    with pytest.raises(AnsibleFilterError, match="mapping"):
        find("not a mapping")
