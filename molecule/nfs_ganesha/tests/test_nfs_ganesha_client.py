"""The export, seen over the NFS protocol from the client container (userspace libnfs).

The client sits on two networks: 172.30.30.0/24 is the allowed export network,
172.30.31.0/24 is not, so the same server is reachable from inside and from outside.
"""

import hashlib
import json
import os
import time
import uuid

import pytest
import testinfra

testinfra_hosts = ["nfs-ganesha-client"]

INSIDE = "172.30.30.10"
OUTSIDE = "172.30.31.10"
IMAGES = "/nfs/images"


@pytest.fixture(scope="module")
def server():
    return testinfra.get_host("ansible://nfs-ganesha-server",
                              ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


@pytest.fixture(scope="module")
def manifest(server):
    return json.loads(server.file(IMAGES + "/manifest.json").content_string)


def url(address, path, version):
    return "nfs://%s%s?version=%s" % (address, path, version)


def listed_names(output):
    """File names from nfs-ls lines: 'mode nlink uid gid size name'."""
    return sorted(line.split()[-1] for line in output.splitlines() if line.strip())


def nfs_run(host, command, *args):
    """Run a libnfs command; wait out the NFSv4 grace period that follows a server restart
    while clients it knows from an earlier run are expected to reclaim their state."""
    for _ in range(30):
        result = host.run(command, *args)
        if "NFS4ERR_GRACE" not in result.stdout + result.stderr:
            break
        time.sleep(5)
    return result


def nfs_sha256(host, address, path, version):
    result = nfs_run(host, "bash -o pipefail -c \"nfs-cat '%s' | sha256sum\"", url(address, path, version))
    assert result.rc == 0, result.stdout + result.stderr
    return result.stdout.split()[0]


def test_nfs_common_is_installed_for_the_kubelet(host):
    assert host.package("nfs-common").is_installed


def test_fstab_mount_pins_the_nfs_version(host):
    fstab = host.file("/etc/fstab").content_string.splitlines()
    entry = [line.split() for line in fstab if line.split()[:2] == ["172.30.30.10:/nfs/images", "/mnt/images"]]
    assert entry, "no fstab entry for the dataset in:\n" + "\n".join(fstab)
    assert entry[0][2] == "nfs"
    assert entry[0][3].split(",") == ["ro", "hard", "_netdev", "nfsvers=4.1"]


@pytest.mark.parametrize("version", ["4", "3"])
def test_export_lists_the_staged_dataset(host, manifest, version):
    result = host.run("nfs-ls '%s'", url(INSIDE, IMAGES, version))
    assert result.rc == 0, result.stderr
    expected = sorted([entry["path"] for entry in manifest["files"]] + ["manifest.json"])
    assert listed_names(result.stdout) == expected


@pytest.mark.parametrize("version", ["4", "3"])
def test_image_read_over_nfs_matches_the_manifest_checksum(host, manifest, version):
    entry = manifest["files"][7]
    assert nfs_sha256(host, INSIDE, IMAGES + "/" + entry["path"], version) == entry["sha256"]


def test_manifest_read_over_nfs_is_the_servers_manifest(host, server):
    local = hashlib.sha256(server.file(IMAGES + "/manifest.json").content).hexdigest()
    assert nfs_sha256(host, INSIDE, IMAGES + "/manifest.json", "4") == local


def test_server_is_reachable_from_outside_the_export_network(host):
    # So the refusals below come from the export's access rules, not from the network.
    assert host.run("timeout 5 bash -c '</dev/tcp/%s/2049'", OUTSIDE).rc == 0


@pytest.mark.parametrize("version, error", [("4", "NFS4ERR_NOENT"), ("3", "MNT3ERR_ACCES")])
def test_client_outside_the_export_network_is_refused(host, version, error):
    result = host.run("nfs-ls '%s'", url(OUTSIDE, IMAGES, version))
    assert result.rc != 0
    assert error in result.stdout + result.stderr


def test_dataset_export_is_read_only(host, server):
    target = IMAGES + "/written-by-client-%s.jpg" % uuid.uuid4().hex
    result = nfs_run(host, "nfs-cp /etc/hostname '%s'", url(INSIDE, target, "4"))
    assert result.rc != 0
    assert "NFS4ERR_ROFS" in result.stdout + result.stderr, "refused as a read-only export"
    assert not server.file(target).exists


def test_results_export_is_writable_with_root_squashed(host, server):
    # A new name each run: ganesha caches directory entries, so a file removed on the server
    # behind its back would still "exist" for a while.
    target = "/nfs/results/written-by-client-%s.txt" % uuid.uuid4().hex
    result = nfs_run(host, "nfs-cp /etc/hostname '%s'", url(INSIDE, target, "4"))
    assert result.rc == 0, result.stdout + result.stderr
    written = server.file(target)
    assert written.exists and written.user == "nobody"
    assert written.content_string == host.file("/etc/hostname").content_string
    server.run("rm -f %s", target)
