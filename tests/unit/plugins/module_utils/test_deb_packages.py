"""Tests for plugins/module_utils/deb_packages.py with dpkg-query and apt-get outputs captured on
Ubuntu 18.04 and Debian 12 (tests/fixtures/deb_packages/SOURCES.md)."""

import re
from pathlib import Path

import pytest

from ansible_collections.edgeai.jetson_cluster.plugins.module_utils.deb_packages import (
    DebPackagesError,
    apt_get_argv,
    cache_is_fresh,
    dpkg_query_argv,
    failure_reason,
    fetch_warnings,
    in_wanted_state,
    is_index_file,
    is_lock_error,
    needs_refresh,
    package_names,
    packages_to_change,
    parse_dpkg_query,
    unsettled,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "deb_packages"


def capture(name, stream="stdout"):
    return (FIXTURES / ("%s.%s" % (name, stream))).read_text()


BIONIC = parse_dpkg_query(capture("bionic_dpkg_query_states"))
BOOKWORM = parse_dpkg_query(capture("bookworm_dpkg_query_states"))
DPKG_OPTIONS = ["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]

# --- package_names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names, expected",
    [
        (["nfs-common"], ["nfs-common"]),
        (["nfs-kernel-server", "python3-pil", "nfs-common"], ["nfs-kernel-server", "python3-pil", "nfs-common"]),
        (["docker.io", "libstdc++6", "g++"], ["docker.io", "libstdc++6", "g++"]),
        (["rsync", "python3", "rsync"], ["rsync", "python3"]),
        ([" nfs-common "], ["nfs-common"]),
        ([], []),
    ],
    ids=["one", "order-kept", "dots-and-plus", "duplicates-dropped", "spaces-trimmed", "none"],
)
def test_package_names_keeps_plain_names_in_order(names, expected):
    assert package_names(names) == expected


@pytest.mark.parametrize(
    "name",
    ["nfs-common=1:1.3.4-2.1ubuntu5.5", "docker.io/bionic-updates", "libc6:arm64", "nfs-*", "NFS-common", "x", "-y", ""],
    ids=["version-pin", "release-pin", "architecture", "wildcard", "upper-case", "one-letter", "option", "empty"],
)
def test_package_names_refuses_what_is_not_a_plain_name(name):
    with pytest.raises(DebPackagesError, match=re.escape("not a Debian package name: %r." % name)):
        package_names(["python3", name])


# --- dpkg-query ------------------------------------------------------------------------------


def test_dpkg_query_argv_asks_for_name_status_and_version():
    assert dpkg_query_argv("/usr/bin/dpkg-query", ["nfs-common", "python3"]) == [
        "/usr/bin/dpkg-query", "-W", r"-f=${Package}\t${db:Status-Abbrev}\t${Version}\n", "nfs-common", "python3",
    ]


@pytest.mark.parametrize(
    "packages, name, status, version, installed",
    [
        (BIONIC, "python3", "ii", "3.6.5-3", True),
        (BIONIC, "rpcbind", "hi", "0.2.3-0.6ubuntu0.18.04.4", True),
        (BIONIC, "keyutils", "iU", "1.5.9-9.2ubuntu2.1", False),
        (BIONIC, "nfs-common", "un", None, False),
        (BOOKWORM, "nfs-common", "rc", "1:2.6.2-4+deb12u1", False),
        (BOOKWORM, "libc6", "ii", "2.36-9+deb12u14", True),
    ],
    ids=["installed", "held", "unpacked-only", "purged", "config-files", "bookworm-installed"],
)
def test_parse_dpkg_query_reads_real_states(packages, name, status, version, installed):
    assert packages[name] == {"status": status, "version": version, "installed": installed}


@pytest.mark.parametrize("packages", [BIONIC, BOOKWORM], ids=["bionic", "bookworm"])
def test_names_unknown_to_dpkg_are_missing_from_the_result(packages):
    assert "nosuchpkg" not in packages


def test_parse_dpkg_query_counts_a_package_installed_for_one_of_two_architectures():
    text = "libc6\tun \t\nlibc6\tii \t2.27-3ubuntu1\n"
    assert parse_dpkg_query(text)["libc6"]["installed"] is True
    assert parse_dpkg_query("\n".join(reversed(text.splitlines())))["libc6"]["installed"] is True


@pytest.mark.parametrize(
    "line",
    ["ii  python3  3.6.5-3  amd64  interactive high-level", "python3\tii \t3.6.5-3\textra", "python3\ti\t3.6.5-3", "\tii \t1.0"],
    ids=["dpkg-l-format", "four-fields", "short-status", "no-name"],
)
def test_parse_dpkg_query_refuses_other_formats_naming_the_line(line):
    with pytest.raises(DebPackagesError, match="line 2 in an unexpected form"):
        parse_dpkg_query("python3\tii \t3.6.5-3\n" + line + "\n")


# --- what to change --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state, names, expected",
    [
        ("present", ["python3", "python3-apt"], []),
        ("present", ["python3", "nfs-common", "nosuchpkg"], ["nfs-common", "nosuchpkg"]),
        ("present", ["rpcbind"], []),
        ("present", ["keyutils"], ["keyutils"]),
        ("absent", ["nfs-common", "nosuchpkg"], []),
        ("absent", ["python3", "nfs-common", "rpcbind"], ["python3", "rpcbind"]),
        ("absent", ["keyutils"], ["keyutils"]),
    ],
    ids=[
        "present-all-installed", "present-purged-and-unknown-are-installed", "present-held-is-kept",
        "present-half-installed-is-finished", "absent-purged-and-unknown-are-gone",
        "absent-installed-and-held-are-removed", "absent-half-installed-is-removed",
    ],
)
def test_packages_to_change_on_bionic(state, names, expected):
    assert packages_to_change(state, names, BIONIC) == expected


@pytest.mark.parametrize(
    "state, expected",
    [("present", ["nfs-common"]), ("absent", [])],
    ids=["present-reinstalls", "absent-leaves-them"],
)
def test_config_files_left_after_remove_count_as_absent(state, expected):
    assert packages_to_change(state, ["nfs-common"], BOOKWORM) == expected


def test_unknown_state_is_refused():
    with pytest.raises(DebPackagesError, match="state must be 'present' or 'absent', got 'latest'"):
        in_wanted_state("latest", BIONIC["python3"])


def test_unsettled_describes_why_a_package_is_not_in_the_wanted_state():
    assert unsettled("present", ["python3", "keyutils", "nosuchpkg", "nfs-common"], BIONIC) == [
        "keyutils (dpkg status 'iU', version 1.5.9-9.2ubuntu2.1)",
        "nosuchpkg (unknown to dpkg)",
        "nfs-common (dpkg status 'un')",
    ]


# --- apt-get command lines ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "action, names, recommends, expected",
    [
        ("install", ["nfs-common"], False, ["install", "-y", "-q"] + DPKG_OPTIONS + ["--no-install-recommends", "nfs-common"]),
        ("install", ["a1", "b2"], True, ["install", "-y", "-q"] + DPKG_OPTIONS + ["-o", "APT::Install-Recommends=true", "a1", "b2"]),
        ("install", ["a1"], None, ["install", "-y", "-q"] + DPKG_OPTIONS + ["a1"]),
        ("remove", ["nfs-common"], False, ["remove", "-y", "-q"] + DPKG_OPTIONS + ["nfs-common"]),
        ("update", [], False, ["update", "-q"]),
    ],
    ids=["install-without-recommends", "install-forcing-recommends", "install-system-default", "remove", "update"],
)
def test_apt_get_argv(action, names, recommends, expected):
    assert apt_get_argv("/usr/bin/apt-get", action, names, recommends) == ["/usr/bin/apt-get"] + expected


def test_apt_get_argv_refuses_other_actions():
    with pytest.raises(DebPackagesError, match="unknown apt-get action 'upgrade'"):
        apt_get_argv("apt-get", "upgrade", [])


# --- package list age --------------------------------------------------------------------------

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    "valid_time, stamp, lists, indexes, fresh",
    [
        (3600, None, NOW - 60, True, True),
        (3600, None, NOW - 7200, True, False),
        (3600, NOW - 60, NOW - 7200, True, True),
        (3600, NOW - 7200, NOW - 60, True, False),
        (3600, None, NOW - 60, False, False),
        (0, None, NOW, True, False),
        (3600, None, None, False, False),
        (3600, None, NOW - 3600, True, True),
    ],
    ids=[
        "recent-lists", "old-lists", "stamp-wins-when-recent", "stamp-wins-when-old",
        "fresh-empty-directory-is-stale", "valid-time-zero-always-stale", "no-lists-directory", "exactly-at-the-limit",
    ],
)
def test_cache_is_fresh(valid_time, stamp, lists, indexes, fresh):
    assert cache_is_fresh(NOW, valid_time, stamp_mtime=stamp, lists_mtime=lists, has_indexes=indexes) is fresh


@pytest.mark.parametrize(
    "update_cache, valid_time, fresh, refresh",
    [
        (False, 0, False, False),
        (True, 0, False, True),
        (True, 3600, True, False),
        (False, 3600, False, True),
        (False, 3600, True, False),
    ],
    ids=["not-asked", "asked", "asked-but-fresh", "valid-time-implies-update", "valid-time-and-fresh"],
)
def test_needs_refresh(update_cache, valid_time, fresh, refresh):
    assert needs_refresh(update_cache, valid_time, fresh) is refresh


@pytest.mark.parametrize(
    "filename, index",
    [
        ("archive.ubuntu.com_ubuntu_dists_bionic_main_binary-amd64_Packages", True),
        ("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4", True),
        ("deb.debian.org_debian_dists_bookworm_InRelease", False),
        ("deb.debian.org_debian_dists_bookworm_main_i18n_Translation-en", False),
        ("lock", False),
        ("partial", False),
    ],
    ids=["packages", "compressed-packages", "release-file", "translation", "lock", "partial-dir"],
)
def test_is_index_file(filename, index):
    assert is_index_file(filename) is index


# --- apt-get's messages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "capture_name, lock",
    [
        ("bionic_apt_get_install_lock_held", True),
        ("bookworm_apt_get_install_lock_held", True),
        ("bionic_apt_get_update_lock_held", True),
        ("bionic_apt_get_install_unknown_package", False),
        ("bionic_apt_get_remove_held_package", False),
        ("bookworm_apt_get_update_unreachable_mirror", False),
    ],
)
def test_is_lock_error(capture_name, lock):
    assert is_lock_error(capture(capture_name, "stderr")) is lock


@pytest.mark.parametrize(
    "capture_name, reason",
    [
        ("bionic_apt_get_install_unknown_package", "E: Unable to locate package nosuchpkg"),
        ("bookworm_apt_get_install_unknown_package", "E: Unable to locate package nosuchpkg"),
        (
            "bookworm_apt_get_install_lock_held",
            "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 744 (python3) "
            "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?",
        ),
        ("bionic_apt_get_remove_held_package", "E: Held packages were changed and -y was used without --allow-change-held-packages."),
    ],
)
def test_failure_reason_is_apt_gets_error_lines(capture_name, reason):
    assert failure_reason(capture(capture_name, "stderr"), capture(capture_name)) == reason


def test_failure_reason_without_error_lines_is_the_tail_of_stderr():
    stderr = "dpkg: error processing package nfs-common (--configure):\n installed post-installation script returned error exit status 1\n"
    assert failure_reason(stderr, "Setting up nfs-common ...\n") == (
        "dpkg: error processing package nfs-common (--configure): | "
        "installed post-installation script returned error exit status 1"
    )


def test_failure_reason_falls_back_to_stdout_then_says_there_was_none():
    assert failure_reason("", "line 1\nline 2\n", lines=1) == "line 2"
    assert failure_reason("", "") == "(no output)"


@pytest.mark.parametrize("release", ["bionic", "bookworm"])
def test_fetch_warnings_of_an_update_that_exited_0(release):
    assert fetch_warnings(capture("%s_apt_get_update_unreachable_mirror" % release, "stderr")) == [
        "W: Failed to fetch http://mirror.invalid/ubuntu/dists/bionic/InRelease  Could not resolve 'mirror.invalid'",
        "W: Some index files failed to download. They have been ignored, or old ones used instead.",
    ]


def test_fetch_warnings_ignore_other_warnings():
    assert fetch_warnings("W: --force-yes is deprecated, use one of the options starting with --allow instead.\n") == []
