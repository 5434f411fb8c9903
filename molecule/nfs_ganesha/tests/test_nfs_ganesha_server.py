"""State of the ganesha NFS server after converge."""

import json

from dataset_checks import image_size, served_files, sha256sums

testinfra_hosts = ["nfs-ganesha-server"]

TOOL = "/usr/local/bin/jc_dataset.py"


def test_ganesha_runs_and_starts_at_boot(host):
    service = host.service("nfs-ganesha")
    assert service.is_running and service.is_enabled


def test_ganesha_config_admits_only_the_cluster_network(host):
    conf = host.file("/etc/ganesha/ganesha.conf")
    assert conf.user == "root" and conf.mode == 0o644
    assert "Clients = 172.30.30.0/24;" in conf.content_string
    assert "no_root_squash" not in conf.content_string


def test_dataset_directory_is_readable_by_everyone_and_owned_by_root(host):
    images = host.file("/nfs/images")
    assert images.is_directory and images.user == "root" and images.mode == 0o755


def test_generated_dataset_has_the_requested_images_and_manifest(host):
    manifest = json.loads(host.file("/nfs/images/manifest.json").content_string)
    assert manifest["count"] == 24
    assert [entry["path"] for entry in manifest["files"]] == ["img_%06d.jpg" % i for i in range(24)]
    assert manifest["generator"]["width"] == 160 and manifest["generator"]["height"] == 120


def test_dataset_verifies_against_its_manifest(host):
    result = host.run("%s verify /nfs/images", TOOL)
    assert result.rc == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["ok"] is True


# Checked without jc_dataset.py, which wrote both the images and the manifest:
# molecule.yml's nfs_server_dataset_generate_{count,width,height}.
COUNT, WIDTH, HEIGHT = 24, 160, 120
IMAGES = ["img_%06d.jpg" % i for i in range(COUNT)]


def test_dataset_has_exactly_the_requested_jpegs(host):
    assert served_files(host) == IMAGES
    for name in IMAGES:
        assert image_size(host, name) == (WIDTH, HEIGHT), name


def test_manifest_checksums_match_sha256sum(host):
    manifest = json.loads(host.file("/nfs/images/manifest.json").content_string)
    assert {entry["path"]: entry["sha256"] for entry in manifest["files"]} == sha256sums(host, IMAGES)


def test_results_directory_belongs_to_the_squashed_user(host):
    results = host.file("/nfs/results")
    assert results.is_directory and results.user == "nobody" and results.group == "nogroup"
