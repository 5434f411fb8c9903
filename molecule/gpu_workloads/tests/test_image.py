"""Both nodes hold the same workload image (built once with buildx) and the staged dataset; nothing is left behind."""

import json

IMAGE = "edgeai-jc/jc-infer:0.1.0"


def image_id(host):
    return host.check_output("docker image inspect --format '{{.Id}}' %s", IMAGE)


def test_image_is_in_docker(host):
    assert image_id(host).startswith("sha256:")


def test_both_nodes_hold_the_same_image_id(host):
    other = host.backend.get_hostname() == "gpu-node1" and "gpu-node2" or "gpu-node1"
    other_host = host.get_host("docker://" + other)
    assert image_id(host) == image_id(other_host)


def test_image_records_what_it_was_built_from(host):
    labels = json.loads(host.check_output("docker image inspect --format '{{json .Config.Labels}}' %s", IMAGE))
    assert len(labels["org.edgeai.jc.context"]) == 64
    assert labels["org.opencontainers.image.base.name"] == "edgeai-jc/debian-systemd:bookworm-amd64"


def test_image_has_debians_torch(host):
    out = host.check_output(
        "docker run --rm --network none --entrypoint python3 %s -c "
        "'import torch, torchvision, PIL; print(torch.__version__, torchvision.__version__)'", IMAGE)
    assert out.startswith("1.13.") and " 0.14." in out


def test_no_image_archive_is_left_on_the_node(host):
    assert host.file("/var/tmp/edgeai-jc").exists is False or host.run("ls -A /var/tmp/edgeai-jc").stdout == ""


def test_no_workload_container_is_left(host):
    assert host.check_output("docker ps --all --quiet --filter label=edgeai.jc.run") == ""


def test_only_the_build_host_has_a_build_context(host):
    has_context = host.file("/var/lib/edgeai-jc/image/Dockerfile").exists
    assert has_context == (host.backend.get_hostname() == "gpu-node1")


def manifest_digest(host, path):
    return json.loads(host.file(path + "/manifest.json").content_string)["sha256"]


def test_staged_dataset_matches_the_nfs_servers(host):
    server = host.get_host("docker://gpu-node1")
    assert manifest_digest(host, "/srv/jc-images") == manifest_digest(server, "/nfs/images")


def test_staged_dataset_holds_the_images_and_the_corrupt_file(host):
    names = host.check_output("ls /srv/jc-images").split()
    assert len([n for n in names if n.endswith(".jpg")]) == 41 and "zz_corrupt.jpg" in names


def test_image_starts_the_workload_package_as_a_module(host):
    config = json.loads(host.check_output("docker image inspect --format '{{json .Config}}' %s", IMAGE))
    assert config["Entrypoint"] == ["python3", "-m", "jc_infer"] and config["WorkingDir"] == "/opt/edgeai-jc"


def test_image_holds_the_package_and_no_bytecode_of_the_controller(host):
    files = host.check_output("docker run --rm --network none --entrypoint ls %s /opt/edgeai-jc/jc_infer", IMAGE).split()
    assert "__main__.py" in files and "decoders.py" in files and "__pycache__" not in files
