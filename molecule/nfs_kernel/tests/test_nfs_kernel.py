"""State of a kernel-backend NFS server after converge (the NFS service itself cannot run
in this container: the kernel has no nfsd; see molecule.yml)."""

import hashlib
import json
import os
from pathlib import Path

import pytest

testinfra_hosts = ["nfs-kernel-server"]

EXPECTED_IMAGES = sorted(["img_%06d.jpg" % i for i in range(10)] + ["sub/img_000010.jpg", "sub/IMG_000011.JPEG"])


def test_kernel_nfs_server_is_installed(host):
    assert host.package("nfs-kernel-server").is_installed


def test_exports_file_exports_the_dataset_read_only_and_results_writable(host):
    lines = [line for line in host.file("/etc/exports").content_string.splitlines()
             if line and not line.startswith("#")]
    assert lines == [
        "/nfs/images 172.30.32.0/24(ro,sync,no_subtree_check,root_squash)",
        "/nfs/results 172.30.32.0/24(rw,sync,no_subtree_check,root_squash)",
    ]


@pytest.mark.parametrize("path, access", [("/nfs/images", "ro"), ("/nfs/results", "rw")])
def test_exportfs_loaded_the_exports_with_root_squash(host, path, access):
    # exportfs -ra (the role's handler) parsed /etc/exports into the export table.
    table = host.check_output("exportfs -s")
    entries = [line for line in table.splitlines() if line.split()[:1] == [path]]
    assert len(entries) == 1, table
    options = entries[0].split("(", 1)[1].rstrip(")").split(",")
    assert entries[0].split()[1].startswith("172.30.32.0/24(")
    assert access in options and "root_squash" in options and "no_root_squash" not in options


@pytest.mark.parametrize("key, value", [
    ("vers3", "n"), ("vers4", "y"), ("vers4.0", "y"), ("vers4.1", "y"), ("vers4.2", "y"),
])
def test_nfs_utils_reads_the_served_versions(host, key, value):
    # nfsconf is nfs-utils' own parser of /etc/nfs.conf and /etc/nfs.conf.d/*.conf.
    assert host.check_output("nfsconf --get nfsd %s", key) == value


def test_nfs_utils_1x_settings_disable_nfsv2_and_nfsv3(host):
    assert 'RPCNFSDOPTS="-N 2 -N 3"' in host.file("/etc/default/nfs-kernel-server").content_string.splitlines()


def test_only_the_controllers_images_were_copied(host):
    found = host.check_output("cd /nfs/images && find . -type f ! -name manifest.json | sed 's|^./||' | sort")
    assert sorted(found.splitlines()) == EXPECTED_IMAGES


def test_copied_images_are_readable_by_everyone_and_owned_by_root(host):
    for rel in ("img_000003.jpg", "sub/IMG_000011.JPEG"):
        image = host.file("/nfs/images/" + rel)
        assert image.user == "root" and image.mode == 0o644, rel
    assert host.file("/nfs/images/sub").mode == 0o755


def test_server_manifest_describes_what_the_export_holds(host):
    manifest = json.loads(host.file("/nfs/images/manifest.json").content_string)
    assert [entry["path"] for entry in manifest["files"]] == EXPECTED_IMAGES
    assert manifest["count"] == len(EXPECTED_IMAGES)


def test_copied_dataset_verifies_against_its_manifest(host):
    result = host.run("/usr/local/bin/jc_dataset.py verify /nfs/images")
    assert result.rc == 0, result.stdout + result.stderr


def test_copied_images_are_the_controllers_bytes(host):
    # Hashed here on both sides (hashlib on the controller, sha256sum on the server), not by
    # jc_dataset.py, which wrote the manifest.
    source = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "dataset"
    expected = {rel: hashlib.sha256((source / rel).read_bytes()).hexdigest() for rel in EXPECTED_IMAGES}
    found = dict(reversed(line.split("  ", 1)) for line in
                 host.check_output("cd /nfs/images && sha256sum " + " ".join(EXPECTED_IMAGES)).splitlines())
    assert found == expected


def test_results_directory_belongs_to_the_squashed_user(host):
    results = host.file("/nfs/results")
    assert results.user == "nobody" and results.group == "nogroup" and results.mode == 0o755
