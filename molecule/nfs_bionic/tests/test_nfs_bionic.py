"""nfs_server on an Ubuntu 18.04 (JetPack 4.x userspace) host managed with python3.8: the role's
packages installed through edgeai.jetson_cluster.deb_packages (molecule/nfs_bionic)."""

import json

import pytest

from dataset_checks import image_size, served_files, sha256sums

testinfra_hosts = ["nfsb-server"]


def test_host_runs_ubuntu_18_04(host):
    assert (host.system_info.distribution, host.system_info.release) == ("ubuntu", "18.04")


def test_python3_8_cannot_import_apt_which_the_system_python_3_6_can(host):
    # Why the scenario exists: ansible.builtin.apt cannot work with this interpreter.
    assert host.run("/usr/bin/python3.8 -c 'import apt_pkg'").rc != 0
    assert host.run("/usr/bin/python3 -c 'import apt_pkg'").rc == 0


@pytest.mark.parametrize("package", ["nfs-kernel-server", "nfs-common", "python3-pil", "python3-numpy"])
def test_role_installed_the_package(host, package):
    assert host.package(package).is_installed


def test_recommended_packages_are_left_out(host):
    # python3-pil recommends python3-olefile; deb_packages installs with --no-install-recommends.
    assert not host.package("python3-olefile").is_installed


def test_exports_file_exports_the_dataset_read_only(host):
    lines = [line for line in host.file("/etc/exports").content_string.splitlines()
             if line and not line.startswith("#")]
    assert lines == ["/nfs/images 172.30.38.0/24(ro,sync,no_subtree_check,root_squash)"]


def test_exportfs_of_nfs_utils_1_3_loaded_the_export(host):
    # The role's handler (exportfs -ra) with Ubuntu 18.04's nfs-utils.
    entries = [line for line in host.check_output("exportfs -s").splitlines() if line.startswith("/nfs/images ")]
    assert len(entries) == 1
    options = entries[0].split("(", 1)[1].rstrip(")").split(",")
    assert "ro" in options and "root_squash" in options


def test_nfs_utils_1x_settings_are_written(host):
    # Ubuntu 18.04's nfs-utils 1.3.4 reads the versions from /etc/default/nfs-kernel-server.
    assert host.package("nfs-kernel-server").version.startswith("1:1.3.4")
    assert 'RPCNFSDOPTS="-N 2 -N 3"' in host.file("/etc/default/nfs-kernel-server").content_string.splitlines()


# molecule.yml's nfs_server_dataset_generate_{count,width,height}.
COUNT, WIDTH, HEIGHT = 6, 96, 64
IMAGES = ["img_%06d.jpg" % i for i in range(COUNT)]


def test_dataset_has_exactly_the_requested_jpegs(host):
    # Generated on the board by jc_dataset.py with Ubuntu 18.04's Python 3.6 + PIL; counted and
    # measured here without it.
    assert served_files(host) == IMAGES
    for name in IMAGES:
        assert image_size(host, name) == (WIDTH, HEIGHT), name


def test_manifest_checksums_match_sha256sum(host):
    manifest = json.loads(host.file("/nfs/images/manifest.json").content_string)
    assert {entry["path"]: entry["sha256"] for entry in manifest["files"]} == sha256sums(host, IMAGES)
    assert manifest["count"] == COUNT

