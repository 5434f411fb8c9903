# -*- coding: utf-8 -*-
# Copyright: edgeai.jetson_cluster contributors
# Apache License 2.0 (see galaxy.yml)
"""Pure functions behind the deb_packages module: read dpkg's view of packages, decide what
to install or remove, build apt-get's command lines, judge the age of the package lists and
read apt-get's error output.

No AnsibleModule here (plugins/modules/deb_packages.py runs the commands); the unit tests in
tests/unit/plugins/module_utils/test_deb_packages.py call these functions with real captured
outputs. Runs on the target, so it keeps to Python 3.8.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# One line per package dpkg knows of; dpkg-query itself turns the backslash escapes into a
# tab and a newline.
DPKG_QUERY_FORMAT = r"${Package}\t${db:Status-Abbrev}\t${Version}\n"

# The environment apt-get and dpkg run in: no questions, messages in English (they are parsed
# and shown to the user). The same set ansible.builtin.apt uses.
APT_ENV = {
    "DEBIAN_FRONTEND": "noninteractive",
    "DEBIAN_PRIORITY": "critical",
    "LANG": "C",
    "LC_ALL": "C",
    "LC_MESSAGES": "C",
    "LC_CTYPE": "C",
}

# Keep changed configuration files, take the maintainer's version of untouched ones: what a
# non-interactive install must do instead of asking (ansible.builtin.apt's default too).
DPKG_OPTIONS = ["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]

# Debian policy 5.6.1: lower case letters, digits, "+", "-", "."; at least two characters,
# starting with a letter or digit. Anything else (version pins "name=1.0", globs, architecture
# qualifiers "name:arm64", release pins "name/bionic") is refused rather than half-supported.
_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")

# dpkg's package states (the second letter of db:Status-Abbrev, see dpkg-query(1)).
# Installed and configured; "triggers-awaited"/"triggers-pending" only wait for another
# package's trigger to run, the package itself works.
INSTALLED_STATES = frozenset("iWt")
# Not installed ("config-files" keeps only configuration files after a remove).
NOT_INSTALLED_STATES = frozenset("nc")
# Anything else is half-way: half-installed (H), unpacked (U), half-configured (F). Such a
# package counts as missing for state=present (apt-get gets to finish or report it) and as
# present for state=absent (apt-get gets to remove it).

# apt-get's messages when another process (apt, unattended-upgrades, packagekit) holds a lock:
#   E: Could not get lock /var/lib/dpkg/lock-frontend - open (11: Resource temporarily unavailable)
#   E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 744 (python3)
#   E: Unable to lock directory /var/lib/apt/lists/
#   E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another ...
#   E: Unable to lock the administration directory (/var/lib/dpkg/), is another process using it?
_LOCK_ERROR = re.compile(
    r"^E: (?:Could not get lock |Unable to lock (?:directory|the administration directory)"
    r"|Unable to acquire the dpkg frontend lock)",
    re.MULTILINE,
)

# apt-get update exits 0 when an index could not be fetched, and says so on stderr:
#   W: Failed to fetch http://.../InRelease  Could not resolve 'mirror.invalid'
#   W: Some index files failed to download. They have been ignored, or old ones used instead.
_FETCH_WARNING = re.compile(r"^W: (?:Failed to fetch|Some index files failed to download)")

# Index files in /var/lib/apt/lists, stored plain or compressed (Acquire::GzipIndexes).
_INDEX_FILE = re.compile(r"_Packages(?:\.[a-z0-9]+)?$")


class DebPackagesError(ValueError):
    """An argument or a command output this module cannot work with."""


def package_names(names):
    """Return the names without duplicates, in order; refuse what is not a plain package name."""
    seen = []
    bad = []
    for name in names:
        name = name.strip()
        if not _PACKAGE_NAME.match(name):
            bad.append(name)
        elif name not in seen:
            seen.append(name)
    if bad:
        raise DebPackagesError(
            "not a Debian package name: %s. deb_packages takes plain package names only (lower "
            "case letters, digits, '+', '-', '.'): no versions (name=1.0), releases (name/bionic), "
            "architectures (name:arm64) or wildcards." % ", ".join(repr(name) for name in bad)
        )
    return seen


def dpkg_query_argv(dpkg_query, names):
    """The dpkg-query command that reports the state of each package in names."""
    return [dpkg_query, "-W", "-f=" + DPKG_QUERY_FORMAT] + list(names)


def parse_dpkg_query(text):
    """Parse dpkg-query output in DPKG_QUERY_FORMAT into {name: {"status", "version", "installed"}}.

    dpkg-query prints nothing for names it has never heard of (and says so on stderr): they are
    simply absent from the result. A package known for several architectures appears once per
    architecture; it counts as installed when one of them is.
    """
    packages = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3 or len(fields[1]) < 2 or not fields[0]:
            raise DebPackagesError(
                "dpkg-query printed line %d in an unexpected form (wanted "
                "'package<TAB>status<TAB>version'): %r" % (number, line)
            )
        name, status, version = fields[0], fields[1].strip(), fields[2].strip()
        entry = {"status": status, "version": version or None, "installed": status[1] in INSTALLED_STATES}
        known = packages.get(name)
        if known is None or (entry["installed"] and not known["installed"]):
            packages[name] = entry
    return packages


def is_present(entry):
    """True when a parsed dpkg-query entry (or None: unknown to dpkg) is installed and configured."""
    return entry is not None and entry["installed"]


def is_absent(entry):
    """True when nothing of the package is installed (unknown, purged or only config files left)."""
    return entry is None or entry["status"][1] in NOT_INSTALLED_STATES


def in_wanted_state(state, entry):
    """Whether a parsed dpkg-query entry (None: unknown to dpkg) is as state asks."""
    if state == "present":
        return is_present(entry)
    if state == "absent":
        return is_absent(entry)
    raise DebPackagesError("state must be 'present' or 'absent', got %r" % (state,))


def packages_to_change(state, names, packages):
    """The names apt-get has to install (state present) or remove (state absent), in order."""
    return [name for name in names if not in_wanted_state(state, packages.get(name))]


def apt_get_argv(apt_get, action, names, install_recommends=False):
    """The apt-get command line for action 'install', 'remove' or 'update'.

    install_recommends: False adds --no-install-recommends, True forces recommended packages in
    even where the system's apt configuration turns them off, None leaves the system's choice.
    """
    if action == "update":
        return [apt_get, "update", "-q"]
    if action == "remove":
        return [apt_get, "remove", "-y", "-q"] + DPKG_OPTIONS + list(names)
    if action == "install":
        argv = [apt_get, "install", "-y", "-q"] + DPKG_OPTIONS
        if install_recommends is False:
            argv.append("--no-install-recommends")
        elif install_recommends is True:
            argv += ["-o", "APT::Install-Recommends=true"]
        return argv + list(names)
    raise DebPackagesError("unknown apt-get action %r" % (action,))


def is_index_file(filename):
    """True for a package index in /var/lib/apt/lists (what a refresh downloads)."""
    return bool(_INDEX_FILE.search(filename))


def cache_is_fresh(now, cache_valid_time, stamp_mtime=None, lists_mtime=None, has_indexes=True):
    """Whether the package lists are new enough to skip a refresh.

    Like ansible.builtin.apt, the age is that of /var/lib/apt/periodic/update-success-stamp
    (apt's hook touches it after every successful update) or, without it, of the
    /var/lib/apt/lists directory. Unlike apt, lists without a single index file are never
    fresh: a fresh image's empty directory has a recent time but lists nothing to install.
    With cache_valid_time 0 the lists are never fresh (update_cache always refreshes).
    """
    if not has_indexes:
        return False
    mtime = stamp_mtime if stamp_mtime is not None else lists_mtime
    if mtime is None or cache_valid_time <= 0:
        return False
    return mtime + cache_valid_time >= now


def needs_refresh(update_cache, cache_valid_time, fresh):
    """Refresh when asked to (update_cache, or a cache_valid_time, which implies it) and stale."""
    return bool(update_cache or cache_valid_time > 0) and not fresh


def is_lock_error(stderr):
    """True when apt-get failed because another process holds the dpkg or lists lock."""
    return bool(_LOCK_ERROR.search(stderr or ""))


def fetch_warnings(stderr):
    """The lines of apt-get update's stderr that say an index could not be fetched."""
    return [line.strip() for line in (stderr or "").splitlines() if _FETCH_WARNING.match(line.strip())]


def failure_reason(stderr, stdout="", lines=5):
    """What to tell the user about a failed apt-get: its error lines ("E: ..."), or else the
    last lines of stderr, or else of stdout."""
    errors = [line.strip() for line in (stderr or "").splitlines() if line.startswith("E: ")]
    if errors:
        return " ".join(errors)
    for text in (stderr, stdout):
        tail = [line.strip() for line in (text or "").splitlines() if line.strip()]
        if tail:
            return " | ".join(tail[-lines:])
    return "(no output)"


def unsettled(state, names, packages):
    """Names that are still not in the wanted state after apt-get succeeded, with their status.

    For example a virtual package (apt-get installs a provider, dpkg knows no package of that
    name) or a package left half-configured.
    """
    return ["%s (%s)" % (name, describe(packages.get(name))) for name in packages_to_change(state, names, packages)]


def describe(entry):
    """A short human description of a parsed dpkg-query entry."""
    if entry is None:
        return "unknown to dpkg"
    return "dpkg status %r%s" % (entry["status"], ", version " + entry["version"] if entry["version"] else "")
