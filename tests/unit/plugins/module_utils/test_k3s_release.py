import pytest

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.k3s_release import (
    K3sReleaseError,
    arch_for_machine,
    checksum_for,
    parse_checksums,
    parse_version,
    release_assets,
    version_from_output,
)

# The layout of a k3s release's sha256sum-<arch>.txt (`sha256sum` output); digests made up.
SUMS_ARM64 = (
    "1111111111111111111111111111111111111111111111111111111111111111  k3s-airgap-images-arm64.tar\n"
    "2222222222222222222222222222222222222222222222222222222222222222  k3s-airgap-images-arm64.tar.gz\n"
    "3333333333333333333333333333333333333333333333333333333333333333  k3s-airgap-images-arm64.tar.zst\n"
    "4444444444444444444444444444444444444444444444444444444444444444  k3s-arm64\n"
    "5555555555555555555555555555555555555555555555555555555555555555  k3s-images.txt\n"
)


@pytest.mark.parametrize(
    "version, kubernetes, rc, revision",
    [
        ("v1.30.6+k3s1", "1.30.6", None, 1),
        ("v1.31.2-rc1+k3s2", "1.31.2", 1, 2),
        ("v1.28.15+k3s1", "1.28.15", None, 1),
        (" v1.30.6+k3s1\n", "1.30.6", None, 1),
    ],
    ids=["release", "release-candidate", "two-digit-patch", "surrounding-whitespace"],
)
def test_parse_version_splits_a_release_tag(version, kubernetes, rc, revision):
    parsed = parse_version(version)
    assert (parsed["kubernetes"], parsed["rc"], parsed["revision"]) == (kubernetes, rc, revision)


@pytest.mark.parametrize(
    "version",
    ["1.30.6+k3s1", "v1.30.6", "v1.30+k3s1", "latest", "stable", "v1.30.6+k3s", "v1.30.6+rke2r1", ""],
    ids=["no-v", "no-k3s-suffix", "no-patch", "channel-latest", "channel-stable", "no-revision",
         "rke2-tag", "empty"],
)
def test_parse_version_rejects_what_is_not_a_release_tag(version):
    with pytest.raises(K3sReleaseError, match="not a k3s release tag like v1.30.6"):
        parse_version(version)


def test_parse_version_rejects_a_number():
    with pytest.raises(K3sReleaseError, match="must be a string"):
        parse_version(1.30)


@pytest.mark.parametrize(
    "older, newer",
    [
        ("v1.30.5+k3s1", "v1.30.6+k3s1"),
        ("v1.30.6+k3s1", "v1.30.6+k3s2"),
        ("v1.30.6-rc1+k3s1", "v1.30.6+k3s1"),
        ("v1.30.6-rc1+k3s1", "v1.30.6-rc2+k3s1"),
        ("v1.9.9+k3s1", "v1.30.0+k3s1"),
    ],
    ids=["patch", "k3s-revision", "rc-before-release", "rc-order", "numeric-not-lexical"],
)
def test_version_keys_order_releases(older, newer):
    assert parse_version(older)["key"] < parse_version(newer)["key"]


@pytest.mark.parametrize(
    "output, expected",
    [
        ("k3s version v1.30.6+k3s1 (1829eaae)\ngo version go1.22.8\n", "v1.30.6+k3s1"),
        ("WARN[0000] something\nk3s version v1.31.2-rc1+k3s1 (abc)\n", "v1.31.2-rc1+k3s1"),
    ],
    ids=["plain", "after-a-warning"],
)
def test_version_from_output_finds_the_version_line(output, expected):
    assert version_from_output(output) == expected


@pytest.mark.parametrize("output", ["", "bash: k3s: command not found", "k3s version garbage (x)"],
                         ids=["empty", "not-installed", "bad-tag"])
def test_version_from_output_fails_without_a_version_line(output):
    with pytest.raises(K3sReleaseError):
        version_from_output(output)


@pytest.mark.parametrize(
    "machine, arch",
    [("x86_64", "amd64"), ("aarch64", "arm64"), ("armv7l", "arm"), ("AARCH64", "arm64")],
    ids=["laptop", "jetson", "raspberry-pi-32bit", "case-insensitive"],
)
def test_arch_for_machine(machine, arch):
    assert arch_for_machine(machine) == arch


def test_arch_for_machine_rejects_an_unknown_architecture():
    with pytest.raises(K3sReleaseError, match="no binary for architecture 'riscv64'"):
        arch_for_machine("riscv64")


@pytest.mark.parametrize(
    "machine, binary, checksum_file, first_archive",
    [
        ("x86_64", "k3s", "sha256sum-amd64.txt", "k3s-airgap-images-amd64.tar.gz"),
        ("aarch64", "k3s-arm64", "sha256sum-arm64.txt", "k3s-airgap-images-arm64.tar.gz"),
        ("armv7l", "k3s-armhf", "sha256sum-arm.txt", "k3s-airgap-images-arm.tar.gz"),
    ],
    ids=["amd64", "arm64", "armhf"],
)
def test_release_assets_names_each_architectures_files(machine, binary, checksum_file, first_archive):
    assets = release_assets("v1.30.6+k3s1", machine)
    assert (assets["binary"], assets["checksum_file"], assets["image_archives"][0]) == (
        binary, checksum_file, first_archive)


def test_release_assets_try_zstd_images_last():
    # docker load on JetPack 4.6 (Docker 20.10) cannot read .tar.zst.
    assert release_assets("v1.30.6+k3s1", "aarch64")["image_archives"][-1].endswith(".tar.zst")


def test_release_assets_urls_escape_the_plus_of_the_tag():
    assets = release_assets("v1.30.6+k3s1", "aarch64")
    assert assets["binary_url"] == (
        "https://github.com/k3s-io/k3s/releases/download/v1.30.6%2Bk3s1/k3s-arm64")
    assert assets["checksum_url"].endswith("/v1.30.6%2Bk3s1/sha256sum-arm64.txt")


def test_release_assets_use_a_mirror_without_doubling_slashes():
    assets = release_assets("v1.30.6+k3s1", "x86_64", "http://mirror.lan:8080/k3s/")
    assert assets["binary_url"] == "http://mirror.lan:8080/k3s/v1.30.6%2Bk3s1/k3s"


def test_checksum_for_takes_the_exact_file_name():
    # "k3s-arm64" must not match the images archives that start with "k3s-a".
    assert checksum_for(SUMS_ARM64, "k3s-arm64") == "4" * 64


def test_checksum_for_reads_binary_mode_lines():
    assert checksum_for("%s *k3s\n" % ("AB" * 32), "k3s") == "ab" * 32


def test_checksum_for_names_what_the_list_holds_when_the_file_is_missing():
    with pytest.raises(K3sReleaseError, match="no line for k3s-armhf.*k3s-arm64"):
        checksum_for(SUMS_ARM64, "k3s-armhf")


def test_parse_checksums_rejects_a_line_without_a_digest():
    with pytest.raises(K3sReleaseError, match="line 2 .*not '<sha256>  <file>'"):
        parse_checksums("%s  k3s\n<html>Not Found</html>\n" % ("a" * 64))


def test_parse_checksums_skips_blank_lines():
    assert parse_checksums("\n%s  k3s\n\n" % ("a" * 64)) == {"k3s": "a" * 64}
