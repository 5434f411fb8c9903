import pytest

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.network_plan import (
    find_duplicates,
)


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
