#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Build a fake k3s "release" around the test double, laid out like the real one.

    make_fixtures.py OUT_DIR VERSION [VERSION ...]

writes, for each VERSION, OUT_DIR/VERSION/ with the file names of a k3s GitHub release:
``k3s``, ``k3s-arm64``, ``k3s-armhf`` (tests/doubles/k3s/fake-k3s with the version, the
architecture and the pinned release's flags (k3s-flags.json) baked in: NOT k3s), ``k3s-airgap-images-<arch>.tar.gz`` (a real ``docker load``
archive holding one tiny image, ``k3s-test-double/pause:<version>``, not k3s's images) and
``k3s-images.txt`` (the image it holds) and ``sha256sum-<arch>.txt`` over them. So OUT_DIR/VERSION serves as ``k3s_airgap_dir`` and OUT_DIR
as a release mirror (``k3s_*_release_url``) with the layout of
https://github.com/k3s-io/k3s/releases/download/VERSION/ASSET.
"""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
BINARIES = {"amd64": "k3s", "arm64": "k3s-arm64", "arm": "k3s-armhf"}


def tar_bytes(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def image_ref(version):
    return "docker.io/k3s-test-double/pause:" + version.replace("+", "-")


def image_archive(version, arch):
    """A `docker save` archive (manifest.json + config + one layer) that `docker load` accepts."""
    tag = image_ref(version)
    layer = tar_bytes([("k3s-test-double.txt", ("fake k3s %s %s image layer\n" % (version, arch)).encode())])
    layer_id = hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/pause"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_id]},
        "history": [{"created_by": "tests/doubles/k3s/make_fixtures.py"}],
    }, sort_keys=True).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag],
                            "Layers": [layer_id + "/layer.tar"]}]).encode()
    archive = tar_bytes([
        (layer_id + "/VERSION", b"1.0"),
        (layer_id + "/layer.tar", layer),
        (config_name, config),
        ("manifest.json", manifest),
    ])
    return gzip.compress(archive, mtime=0)


def baked_flags():
    """k3s-flags.json as the double reads it: per command, {flags: {name: type}, aliases: {alias: name}}."""
    with open(os.path.join(HERE, "k3s-flags.json")) as handle:
        release = json.load(handle)
    return json.dumps(dict(
        (command, {"flags": dict((name, spec["type"]) for name, spec in release[command].items()),
                   "aliases": dict((alias, name) for name, spec in release[command].items()
                                   for alias in spec["aliases"])})
        for command in ("server", "agent")), sort_keys=True)


def build_double(version, arch):
    """The double's text with its version, architecture and flag list baked in."""
    with open(os.path.join(HERE, "fake-k3s")) as handle:
        template = handle.read()
    return template.replace('"@K3S_VERSION@"', json.dumps(version)).replace(
        '"@K3S_ARCH@"', json.dumps(arch)).replace('"@K3S_FLAGS@"', json.dumps(baked_flags()))


def build(out_dir, version):
    release = os.path.join(out_dir, version)
    os.makedirs(release, exist_ok=True)
    for arch, binary in sorted(BINARIES.items()):
        files = {
            binary: build_double(version, arch).encode(),
            "k3s-airgap-images-%s.tar.gz" % arch: image_archive(version, arch),
            "k3s-images.txt": (image_ref(version) + "\n").encode(),
        }
        lines = []
        for name, data in sorted(files.items()):
            path = os.path.join(release, name)
            with open(path, "wb") as handle:
                handle.write(data)
            os.chmod(path, 0o755 if name == binary else 0o644)
            lines.append("%s  %s\n" % (hashlib.sha256(data).hexdigest(), name))
        with open(os.path.join(release, "sha256sum-%s.txt" % arch), "w") as handle:
            handle.writelines(lines)
    return release


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    for version in argv[2:]:
        print(build(argv[1], version))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
