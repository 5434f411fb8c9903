# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""What a k3s release is called: versions, per-architecture asset names, checksum lists.

Pure functions behind the k3s filters (plugins/filter/k3s.py), used by the k3s_server and
k3s_agent roles and by playbooks/upgrade.yml; unit-tested in
tests/unit/plugins/module_utils/test_k3s_release.py. No AnsibleModule here.

Asset names follow the k3s GitHub releases
(https://github.com/k3s-io/k3s/releases/download/<version>/<asset>):

    arch    binary      checksum list        air-gap images
    amd64   k3s         sha256sum-amd64.txt  k3s-airgap-images-amd64.tar.gz|.tar|.tar.zst
    arm64   k3s-arm64   sha256sum-arm64.txt  k3s-airgap-images-arm64.tar.gz|.tar|.tar.zst
    arm     k3s-armhf   sha256sum-arm.txt    k3s-airgap-images-arm.tar.gz|.tar|.tar.zst
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# v1.30.6+k3s1, v1.31.2-rc1+k3s1: the tags k3s releases carry.
VERSION_PATTERN = r"^v(\d+)\.(\d+)\.(\d+)(?:-rc(\d+))?\+k3s(\d+)$"
_VERSION_RE = re.compile(VERSION_PATTERN)

# `uname -m` / ansible_facts['architecture'] -> k3s's name for the architecture.
_ARCH_BY_MACHINE = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv7": "arm",
    "armv7hl": "arm",
    "armhf": "arm",
    "arm": "arm",
}

_BINARY_BY_ARCH = {"amd64": "k3s", "arm64": "k3s-arm64", "arm": "k3s-armhf"}

# `docker load` reads .tar and .tar.gz on every Docker release (JetPack 4.6 ships 20.10);
# .tar.zst needs a recent Docker, so it is tried last.
IMAGE_ARCHIVE_SUFFIXES = (".tar.gz", ".tar", ".tar.zst")

DEFAULT_RELEASE_URL = "https://github.com/k3s-io/k3s/releases/download"

_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")


class K3sReleaseError(ValueError):
    """A version, architecture or checksum list that cannot name a k3s release asset."""


def parse_version(version):
    """Split a k3s version tag into its parts.

    Returns a dict: ``version`` (as given, stripped), ``kubernetes`` ("1.30.6"), ``major``,
    ``minor``, ``patch``, ``rc`` (int or None), ``revision`` (the N of +k3sN) and ``key``, a
    list that orders versions the way k3s releases them (an rc sorts before its release).
    """
    if not isinstance(version, str):
        raise K3sReleaseError(
            "k3s version must be a string like v1.30.6+k3s1, got %r" % (version,)
        )
    match = _VERSION_RE.match(version.strip())
    if not match:
        raise K3sReleaseError(
            "k3s version %r is not a k3s release tag like v1.30.6+k3s1 "
            "(see https://github.com/k3s-io/k3s/releases)" % (version,)
        )
    major, minor, patch, rc, revision = (None if part is None else int(part) for part in match.groups())
    return {
        "version": version.strip(),
        "kubernetes": "%d.%d.%d" % (major, minor, patch),
        "major": major,
        "minor": minor,
        "patch": patch,
        "rc": rc,
        "revision": revision,
        # [1, 30, 6, 0, 1, 1] (v1.30.6-rc1+k3s1) < [1, 30, 6, 1, 0, 1] (v1.30.6+k3s1).
        "key": [major, minor, patch, 1 if rc is None else 0, rc or 0, revision],
    }


def version_from_output(output):
    """The version tag in ``k3s --version`` output ("k3s version v1.30.6+k3s1 (1829eaae)")."""
    for line in (output or "").splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "k3s" and words[1] == "version":
            return parse_version(words[2])["version"]
    raise K3sReleaseError(
        "no 'k3s version vX.Y.Z+k3sN' line in the output of k3s --version: %r" % (output,)
    )


def arch_for_machine(machine):
    """k3s's architecture name for a machine name (ansible_facts['architecture'])."""
    arch = _ARCH_BY_MACHINE.get(str(machine).strip().lower())
    if arch is None:
        raise K3sReleaseError(
            "k3s publishes no binary for architecture %r (known: %s)"
            % (machine, ", ".join(sorted(_ARCH_BY_MACHINE)))
        )
    return arch


def release_assets(version, machine, release_url=DEFAULT_RELEASE_URL):
    """Names and download URLs of one host's k3s release assets.

    Returns a dict: ``version``, ``kubernetes``, ``arch``, ``binary`` (file name),
    ``checksum_file``, ``image_archives`` (candidate names, preferred first),
    ``binary_url`` and ``checksum_url``.
    """
    parsed = parse_version(version)
    arch = arch_for_machine(machine)
    base = "%s/%s" % (str(release_url).rstrip("/"), parsed["version"].replace("+", "%2B"))
    binary = _BINARY_BY_ARCH[arch]
    checksum_file = "sha256sum-%s.txt" % arch
    return {
        "version": parsed["version"],
        "kubernetes": parsed["kubernetes"],
        "arch": arch,
        "binary": binary,
        "checksum_file": checksum_file,
        "image_archives": ["k3s-airgap-images-%s%s" % (arch, suffix) for suffix in IMAGE_ARCHIVE_SUFFIXES],
        "binary_url": "%s/%s" % (base, binary),
        "checksum_url": "%s/%s" % (base, checksum_file),
    }


def parse_checksums(text):
    """Parse ``sha256sum`` output ("<hex>  <name>" or "<hex> *<name>") into {name: hex}."""
    sums = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not _SHA256_RE.match(parts[0]):
            raise K3sReleaseError(
                "line %d of the checksum list is not '<sha256>  <file>': %r" % (number, line)
            )
        name = parts[1].strip()
        if name.startswith("*"):
            name = name[1:]
        sums[name] = parts[0].lower()
    return sums


def checksum_for(text, name):
    """The sha256 that a ``sha256sum`` list gives for file ``name`` (exact name match)."""
    sums = parse_checksums(text)
    if name not in sums:
        raise K3sReleaseError(
            "the checksum list has no line for %s (it lists: %s)"
            % (name, ", ".join(sorted(sums)) or "nothing")
        )
    return sums[name]
