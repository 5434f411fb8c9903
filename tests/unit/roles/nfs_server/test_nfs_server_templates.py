"""The nfs_server role's server configuration: /etc/exports, ganesha.conf and the kernel
server's version settings, rendered by Ansible with the role's defaults.

Golden files live in tests/fixtures/nfs/<case>/; after an intended template change, refresh
them with NFS_GOLDEN_UPDATE=1 python -m pytest tests/unit/roles/nfs_server and review the diff.
"""

import os
import re
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "nfs"

SERVER_FILES = ["exports", "ganesha.conf", "nfs-kernel-server.default", "nfs.conf"]


def exports_entries(text):
    """{path: {client: [options]}} from an exports(5) file."""
    entries = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        path, *clients = line.split()
        entries[path] = {}
        for client in clients:
            match = re.fullmatch(r"([^()]+)\(([^()]*)\)", client)
            assert match, "malformed client spec %r in line %r" % (client, line)
            entries[path][match.group(1)] = match.group(2).split(",")
    return entries


def ganesha_exports(text):
    """The EXPORT blocks of a ganesha.conf, as text, in order."""
    return re.findall(r"^EXPORT \{\n(.*?)^\}", text, flags=re.M | re.S)


def ganesha_value(block, key):
    values = re.findall(r"^\s*%s = (.*);$" % re.escape(key), block, flags=re.M)
    assert values, "no %s in block:\n%s" % (key, block)
    return values


@pytest.mark.parametrize("case", ["default", "v3_results"])
@pytest.mark.parametrize("name", SERVER_FILES)
def test_rendered_file_matches_golden(rendered, case, name):
    golden = GOLDEN_DIR / case / name
    text = rendered[case][name]
    if os.environ.get("NFS_GOLDEN_UPDATE"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def test_default_dataset_export_is_read_only_with_root_squash(rendered):
    entries = exports_entries(rendered["default"]["exports"])
    assert entries == {"/nfs/images": {"192.168.10.0/24": ["ro", "sync", "no_subtree_check", "root_squash"]}}


@pytest.mark.parametrize("case", ["default", "v3_results"])
def test_no_export_squashes_nothing_by_default(rendered, case):
    text = rendered[case]["exports"] + rendered[case]["ganesha.conf"]
    assert "no_root_squash" not in text


def test_results_export_is_writable_and_still_squashes_root(rendered):
    entries = exports_entries(rendered["v3_results"]["exports"])
    assert entries["/nfs/results"] == {"192.168.10.0/24": ["rw", "sync", "no_subtree_check", "root_squash"]}
    assert "ro" in entries["/nfs/images"]["192.168.10.0/24"]


def test_exports_list_every_client_with_its_options(rendered):
    entries = exports_entries(rendered["custom_exports"]["exports"])
    data_options = ["ro", "all_squash", "anonuid=1000", "anongid=1001", "sec=sys:krb5"]
    assert entries["/srv/data"] == {"10.0.0.0/24": data_options, "10.0.1.7": data_options}
    assert entries["/srv/scratch"] == {"10.0.0.0/24": ["rw", "no_root_squash"]}


def test_ganesha_admits_only_the_client_block(rendered):
    (block,) = ganesha_exports(rendered["default"]["ganesha.conf"])
    access = ganesha_value(block, "Access_Type")
    assert access == ["None", "RO"], "export-level None, CLIENT-level RO"
    assert ganesha_value(block, "Clients") == ["192.168.10.0/24"]
    assert ganesha_value(block, "Squash") == ["root_squash", "root_squash"]
    assert ganesha_value(block, "Anonymous_Uid") == ["65534"], "squashed root is nobody, as with knfsd"


def test_ganesha_maps_export_options_per_export(rendered):
    data, scratch = ganesha_exports(rendered["custom_exports"]["ganesha.conf"])
    assert ganesha_value(data, "Clients") == ["10.0.0.0/24, 10.0.1.7"]
    assert ganesha_value(data, "Access_Type")[-1] == "RO"
    assert ganesha_value(data, "Squash")[-1] == "all_squash"
    assert ganesha_value(data, "Anonymous_Uid") == ["65534", "1000"], "export default, then the client's"
    assert ganesha_value(data, "Anonymous_Gid") == ["65534", "1001"]
    assert ganesha_value(data, "SecType") == ["sys, krb5"]
    assert ganesha_value(scratch, "Access_Type")[-1] == "RW"
    assert ganesha_value(scratch, "Squash")[-1] == "no_root_squash"
    assert ganesha_value(scratch, "Pseudo") == ['"/scratch"']
    assert ganesha_value(scratch, "Export_Id") == ["2"]


@pytest.mark.parametrize("case, protocols, minors", [
    ("default", "4", "0, 1, 2"),
    ("v3_results", "3, 4", "1, 2"),
])
def test_ganesha_serves_the_configured_versions(rendered, case, protocols, minors):
    text = rendered[case]["ganesha.conf"]
    core = re.search(r"^NFS_CORE_PARAM \{(.*?)^\}", text, flags=re.M | re.S).group(1)
    assert ganesha_value(core, "Protocols") == [protocols]
    assert ganesha_value(text, "Minor_Versions") == [minors]
    for block in ganesha_exports(text):
        assert ganesha_value(block, "Protocols") == [protocols]


@pytest.mark.parametrize("case, expected", [
    ("default", {"vers3": "n", "vers4": "y", "vers4.0": "y", "vers4.1": "y", "vers4.2": "y"}),
    ("v3_results", {"vers3": "y", "vers4": "y", "vers4.0": "n", "vers4.1": "y", "vers4.2": "y"}),
])
def test_kernel_nfs_conf_serves_the_configured_versions(rendered, case, expected):
    lines = rendered[case]["nfs.conf"].splitlines()
    assert "[nfsd]" in lines
    assert dict(line.split("=", 1) for line in lines if "=" in line) == expected


@pytest.mark.parametrize("case, opts", [
    ("default", "-N 2 -N 3"),
    ("v3_results", "-N 2 -V 3 -N 4.0"),
])
def test_kernel_rpcnfsd_flags_serve_the_configured_versions(rendered, case, opts):
    assert 'RPCNFSDOPTS="%s"' % opts in rendered[case]["nfs-kernel-server.default"].splitlines()
