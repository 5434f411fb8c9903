import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.edgeai.jetson_cluster.plugins.filter.k3s import FilterModule

FILTERS = FilterModule().filters()


def test_k3s_release_assets_filter_names_the_jetson_binary():
    assets = FILTERS["k3s_release_assets"]("v1.30.6+k3s1", "aarch64")
    assert assets["binary"] == "k3s-arm64"


def test_k3s_release_assets_filter_takes_a_mirror_url():
    assets = FILTERS["k3s_release_assets"]("v1.30.6+k3s1", "x86_64", "http://10.0.0.5:8080")
    assert assets["checksum_url"] == "http://10.0.0.5:8080/v1.30.6%2Bk3s1/sha256sum-amd64.txt"


@pytest.mark.parametrize(
    "name, args",
    [
        ("k3s_version", ("latest",)),
        ("k3s_version_from_output", ("command not found",)),
        ("k3s_release_assets", ("v1.30.6+k3s1", "mips")),
        ("k3s_checksum", ("", "k3s")),
    ],
    ids=["version", "version-from-output", "release-assets", "checksum"],
)
def test_filters_turn_release_errors_into_filter_errors(name, args):
    with pytest.raises(AnsibleFilterError):
        FILTERS[name](*args)


def test_k3s_version_filter_orders_versions():
    parse = FILTERS["k3s_version"]
    assert parse("v1.30.5+k3s1")["key"] < parse("v1.30.6+k3s1")["key"]
