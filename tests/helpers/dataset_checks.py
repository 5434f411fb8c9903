"""Checks of a dataset served from /nfs/images made without jc_dataset.py, which wrote both the
images and the manifest: the files listed with find, each JPEG's size read from its own header,
the checksums from sha256sum on the host (molecule/nfs_ganesha, molecule/nfs_bionic)."""

DATASET = "/nfs/images"
# The start-of-frame markers (baseline, progressive, lossless, arithmetic-coded) that carry the size.
_SOF_MARKERS = (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)


def jpeg_size(data):
    """(width, height) from a JPEG's start-of-frame segment."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    pos = 2
    while pos + 9 < len(data):
        assert data[pos] == 0xFF, "broken JPEG segment at byte %d" % pos
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker in _SOF_MARKERS:
            return int.from_bytes(data[pos + 7:pos + 9], "big"), int.from_bytes(data[pos + 5:pos + 7], "big")
        pos += 2 + length
    raise AssertionError("no start-of-frame segment")


def served_files(host):
    """The dataset's files but its manifest, sorted, as find lists them on the host."""
    return host.check_output("find %s -type f ! -name manifest.json -printf '%%P\\n' | sort" % DATASET).splitlines()


def image_size(host, name):
    return jpeg_size(host.file("%s/%s" % (DATASET, name)).content)


def sha256sums(host, names):
    """{name: sha256} as sha256sum computes them on the host."""
    return dict(reversed(line.split("  ", 1)) for line in
                host.check_output("cd %s && sha256sum %s" % (DATASET, " ".join(names))).splitlines())
