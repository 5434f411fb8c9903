"""Tests for the deb_packages module shell (plugins/modules/deb_packages.py).

main() runs with module arguments patched in, exit_json/fail_json turned into exceptions that
carry the result. The commands really run: test doubles for dpkg-query and apt-get (small
Python scripts put first in PATH) keep a package database in a file, record every call with
its DEBIAN_FRONTEND, and answer with the messages captured on Ubuntu 18.04
(tests/fixtures/deb_packages/).
"""

import json
import os
import stat
import sys
import textwrap
import time
from pathlib import Path

import pytest

from module_harness import ExitJson, FailJson, module_exits, patch_module_args  # noqa: F401 (fixture)

from ansible_collections.edgeai.jetson_cluster.plugins.modules import deb_packages


FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "deb_packages"
NO_RECOMMENDS = ["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold", "--no-install-recommends"]


# dpkg-query -W -f=FORMAT NAME...: prints the database lines of the names it knows (sorted by
# name, as dpkg does), complains on stderr about the others and then exits 1.
FAKE_DPKG_QUERY = r'''
import json, os, sys
db = json.load(open(os.environ["FAKE_DB"]))
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["dpkg-query"] + sys.argv[1:]) + "\n")
assert sys.argv[1] == "-W" and sys.argv[2] == r"-f=${Package}\t${db:Status-Abbrev}\t${Version}\n", sys.argv
names = sys.argv[3:]
for name in sorted(n for n in names if n in db):
    print("%s\t%s \t%s" % (name, db[name][0], db[name][1]))
unknown = [n for n in names if n not in db]
for name in unknown:
    print("dpkg-query: no packages found matching " + name, file=sys.stderr)
sys.exit(1 if unknown else 0)
'''

# apt-get update|install|remove: records the call; a lock is held while FAKE_LOCKED counts down;
# install knows the packages in FAKE_AVAILABLE ("name=version", "virtual>provider");
# update writes an index file into FAKE_LISTS.
FAKE_APT_GET = r'''
import json, os, sys
fixtures = os.environ["FAKE_FIXTURES"]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["apt-get"] + sys.argv[1:] + ["DEBIAN_FRONTEND=" + os.environ.get("DEBIAN_FRONTEND", "")]) + "\n")
locked = os.environ.get("FAKE_LOCKED")
if locked:
    left = int(open(locked).read())
    if left:
        open(locked, "w").write(str(left - 1))
        sys.stderr.write(open(os.path.join(fixtures, "bionic_apt_get_install_lock_held.stderr")).read())
        sys.exit(100)
action, args = sys.argv[1], sys.argv[2:]
if action == "update":
    sys.stderr.write(os.environ.get("FAKE_UPDATE_STDERR", ""))
    open(os.path.join(os.environ["FAKE_LISTS"], "archive.ubuntu.com_ubuntu_dists_bionic_main_binary-amd64_Packages"), "w").close()
    sys.exit(0)
db = json.load(open(os.environ["FAKE_DB"]))
names, skip = [], False
for arg in args:
    if skip:
        skip = False
    elif arg == "-o":
        skip = True
    elif not arg.startswith("-"):
        names.append(arg)
available = dict(item.split("=") for item in os.environ.get("FAKE_AVAILABLE", "").split() if "=" in item)
virtual = dict(item.split(">") for item in os.environ.get("FAKE_AVAILABLE", "").split() if ">" in item)
print("Reading package lists...")
for name in names:
    if action == "install" and name not in available and name not in virtual:
        sys.stderr.write(open(os.path.join(fixtures, "bionic_apt_get_install_unknown_package.stderr")).read().replace("nosuchpkg", name))
        sys.exit(100)
for name in names:
    if action == "install":
        real = virtual.get(name, name)
        db[real] = ["ii", available[real]]
    elif action == "remove":
        db[name] = ["rc", db[name][1]]
json.dump(db, open(os.environ["FAKE_DB"], "w"))
sys.exit(0)
'''


class Host:
    """The test doubles' state: package database, call log, package lists."""

    def __init__(self, tmp_path, monkeypatch):
        self.tmp = tmp_path
        self.monkeypatch = monkeypatch
        bindir = tmp_path / "bin"
        bindir.mkdir()
        for name, body in (("dpkg-query", FAKE_DPKG_QUERY), ("apt-get", FAKE_APT_GET)):
            path = bindir / name
            path.write_text("#!%s\n%s" % (sys.executable, textwrap.dedent(body)))
            path.chmod(path.stat().st_mode | stat.S_IXUSR)
        self.db_file = tmp_path / "db.json"
        self.log_file = tmp_path / "calls.log"
        self.log_file.write_text("")
        self.lists = tmp_path / "lists"
        self.lists.mkdir()
        (self.lists / "partial").mkdir()
        self.stamp = tmp_path / "update-success-stamp"
        self.db = {"python3": ["ii", "3.6.5-3"], "nfs-common": ["un", ""], "rpcbind": ["ii", "0.2.3-0.6ubuntu0.18.04.4"]}
        self.available = "nfs-common=1:1.3.4-2.1ubuntu5.5 nfs-kernel-server=1:1.3.4-2.1ubuntu5.5 python3-pil=5.1.0-1ubuntu0.8"
        for key, value in {
            "FAKE_DB": self.db_file, "FAKE_LOG": self.log_file, "FAKE_LISTS": self.lists, "FAKE_FIXTURES": FIXTURES,
            "PATH": "%s%s%s" % (bindir, os.pathsep, os.environ["PATH"]),
        }.items():
            monkeypatch.setenv(key, str(value))
        # The module must set it itself (the shell running the tests may have it already).
        monkeypatch.delenv("DEBIAN_FRONTEND", raising=False)
        monkeypatch.setattr(deb_packages, "APT_LISTS_PATH", str(self.lists))
        monkeypatch.setattr(deb_packages, "APT_UPDATE_SUCCESS_STAMP_PATH", str(self.stamp))
        monkeypatch.setattr(deb_packages, "LOCK_RETRY_DELAY", 0.01)

    def lists_updated(self, seconds_ago):
        """Give the lists an index file, as of seconds_ago."""
        index = self.lists / "archive.ubuntu.com_ubuntu_dists_bionic_main_binary-amd64_Packages"
        index.write_text("Package: nfs-common\n")
        then = time.time() - seconds_ago
        os.utime(str(self.lists), (then, then))

    def locked_for(self, tries):
        counter = self.tmp / "locked"
        counter.write_text(str(tries))
        self.monkeypatch.setenv("FAKE_LOCKED", str(counter))

    def run(self, args, check_mode=False):
        self.db_file.write_text(json.dumps(self.db))
        self.monkeypatch.setenv("FAKE_AVAILABLE", self.available)
        if check_mode:
            args = dict(args, _ansible_check_mode=True)
        try:
            with patch_module_args(args):
                deb_packages.main()
        finally:
            self.db = json.loads(self.db_file.read_text())

    def exits(self, args, **kwargs):
        with pytest.raises(ExitJson) as info:
            self.run(args, **kwargs)
        return info.value.args[0]

    def fails(self, args, **kwargs):
        with pytest.raises(FailJson) as info:
            self.run(args, **kwargs)
        return info.value.args[0]

    def calls(self, command=None):
        calls = [json.loads(line) for line in self.log_file.read_text().splitlines()]
        return [call[1:] for call in calls if command is None or call[0] == command]


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


# --- state present ---------------------------------------------------------------------------


def test_installs_only_the_missing_packages_non_interactively(host):
    result = host.exits({"name": ["python3", "nfs-common", "python3-pil"]})
    assert (result["changed"], result["installed"], result["removed"]) == (True, ["nfs-common", "python3-pil"], [])
    assert host.calls("apt-get") == [
        ["install", "-y", "-q"] + NO_RECOMMENDS + ["nfs-common", "python3-pil", "DEBIAN_FRONTEND=noninteractive"],
    ]
    assert host.db["nfs-common"] == ["ii", "1:1.3.4-2.1ubuntu5.5"]


def test_second_run_changes_nothing_and_runs_no_apt_get(host):
    host.exits({"name": ["nfs-common", "python3-pil"]})
    host.log_file.write_text("")
    result = host.exits({"name": ["nfs-common", "python3-pil"]})
    assert (result["changed"], result["installed"]) == (False, [])
    assert host.calls("apt-get") == []


def test_a_string_of_names_is_split_on_commas(host):
    # What ansible.builtin.package passes on for name: "a,b".
    assert host.exits({"name": "nfs-common,python3-pil"})["installed"] == ["nfs-common", "python3-pil"]


def test_install_recommends_forces_recommended_packages(host):
    host.exits({"name": ["nfs-common"], "install_recommends": True})
    argv = host.calls("apt-get")[0]
    assert "-o" in argv and "APT::Install-Recommends=true" in argv and "--no-install-recommends" not in argv


def test_check_mode_reports_what_would_be_installed_and_changes_nothing(host):
    result = host.exits({"name": ["python3", "nfs-common"], "update_cache": True}, check_mode=True)
    assert (result["changed"], result["installed"], result["cache_updated"]) == (True, ["nfs-common"], True)
    assert result["cmd"][1:] == ["install", "-y", "-q"] + NO_RECOMMENDS + ["nfs-common"]
    assert host.calls("apt-get") == []
    assert host.db["nfs-common"] == ["un", ""]


def test_check_mode_with_everything_installed_is_not_a_change(host):
    result = host.exits({"name": ["python3"]}, check_mode=True)
    assert (result["changed"], result["installed"]) == (False, [])


def test_unknown_package_fails_with_apt_gets_error(host):
    result = host.fails({"name": ["nfs-common", "nosuchpkg"]})
    assert result["msg"] == "apt-get install nfs-common nosuchpkg failed (exit 100): E: Unable to locate package nosuchpkg"
    assert (result["changed"], result["installed"], result["rc"]) == (False, [], 100)


def test_virtual_package_fails_after_apt_get_installed_a_provider(host):
    host.available += " mail-transport-agent>nfs-common"
    result = host.fails({"name": ["mail-transport-agent"]})
    assert result["msg"].startswith(
        "apt-get install exited 0, but dpkg does not list as installed: mail-transport-agent (unknown to dpkg). "
        "A virtual package name?"
    )
    assert result["rc"] == 0


# --- state absent ----------------------------------------------------------------------------


def test_removes_only_installed_packages(host):
    result = host.exits({"name": ["rpcbind", "nfs-common", "nosuchpkg"], "state": "absent"})
    assert (result["changed"], result["removed"], result["installed"]) == (True, ["rpcbind"], [])
    assert host.calls("apt-get") == [
        ["remove", "-y", "-q", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
         "rpcbind", "DEBIAN_FRONTEND=noninteractive"],
    ]
    assert host.db["rpcbind"][0] == "rc"


def test_removing_absent_packages_changes_nothing(host):
    result = host.exits({"name": ["nfs-common"], "state": "absent"})
    assert (result["changed"], result["removed"]) == (False, [])
    assert host.calls("apt-get") == []


# --- package lists ---------------------------------------------------------------------------


def test_update_cache_refreshes_before_installing(host):
    result = host.exits({"name": ["nfs-common"], "update_cache": True})
    assert result["cache_updated"] is True
    assert [call[0] for call in host.calls("apt-get")] == ["update", "install"]


def test_lists_younger_than_cache_valid_time_are_not_refreshed(host):
    host.lists_updated(seconds_ago=60)
    result = host.exits({"name": ["python3"], "update_cache": True, "cache_valid_time": 3600})
    assert (result["cache_updated"], result["changed"]) == (False, False)
    assert host.calls("apt-get") == []


def test_lists_older_than_cache_valid_time_are_refreshed(host):
    host.lists_updated(seconds_ago=7200)
    assert host.exits({"name": ["python3"], "cache_valid_time": 3600})["cache_updated"] is True
    assert host.calls("apt-get") == [["update", "-q", "DEBIAN_FRONTEND=noninteractive"]]


def test_an_old_success_stamp_wins_over_a_recent_lists_directory(host):
    host.lists_updated(seconds_ago=60)
    host.stamp.write_text("")
    then = time.time() - 7200
    os.utime(str(host.stamp), (then, then))
    assert host.exits({"cache_valid_time": 3600})["cache_updated"] is True


def test_an_empty_lists_directory_is_refreshed_however_recent(host):
    # A fresh image: /var/lib/apt/lists was just created but holds no index.
    assert host.exits({"name": ["python3"], "cache_valid_time": 3600})["cache_updated"] is True


def test_refreshing_the_lists_alone_is_not_a_change(host):
    result = host.exits({"update_cache": True})
    assert (result["changed"], result["cache_updated"], result["msg"]) == (False, True, "package lists refreshed")


def test_check_mode_does_not_refresh_the_lists(host):
    assert host.exits({"update_cache": True}, check_mode=True)["cache_updated"] is True
    assert host.calls("apt-get") == []


def test_index_fetch_failures_become_warnings(host, monkeypatch):
    monkeypatch.setenv("FAKE_UPDATE_STDERR", (FIXTURES / "bionic_apt_get_update_unreachable_mirror.stderr").read_text())
    result = host.exits({"update_cache": True})
    assert result["warnings_seen"] == [
        "apt-get update: W: Failed to fetch http://mirror.invalid/ubuntu/dists/bionic/InRelease  Could not resolve 'mirror.invalid'",
        "apt-get update: W: Some index files failed to download. They have been ignored, or old ones used instead.",
    ]


# --- locks -----------------------------------------------------------------------------------


def test_waits_while_another_process_holds_the_lock(host):
    host.locked_for(tries=2)
    result = host.exits({"name": ["nfs-common"], "lock_timeout": 30})
    assert result["installed"] == ["nfs-common"]
    assert len(host.calls("apt-get")) == 3


def test_gives_up_on_the_lock_after_lock_timeout(host):
    host.locked_for(tries=1000)
    result = host.fails({"name": ["nfs-common"], "lock_timeout": 0})
    assert result["msg"] == (
        "apt-get install nfs-common failed (exit 100): "
        "E: Could not get lock /var/lib/dpkg/lock-frontend - open (11: Resource temporarily unavailable) "
        "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?"
    )
    assert len(host.calls("apt-get")) == 1


def test_a_held_lock_during_update_fails_the_refresh(host):
    host.locked_for(tries=1000)
    result = host.fails({"update_cache": True, "lock_timeout": 0})
    assert result["msg"].startswith("apt-get update failed (exit 100): E: Could not get lock ")
    assert result["cache_updated"] is True


# --- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        ({"name": ["nfs-common=1:1.3.4"]}, "not a Debian package name: 'nfs-common=1:1.3.4'"),
        ({"name": ["nfs-common"], "state": "latest"}, "value of state must be one of: present, absent"),
        ({"cache_valid_time": -1}, "cache_valid_time must not be negative, got -1"),
        ({"name": ["nfs-common"], "lock_timeout": -5}, "lock_timeout must not be negative, got -5"),
        ({"name": ["nfs-common"], "purge": True}, "Unsupported parameters"),
    ],
    ids=["version-pin", "state-latest", "negative-valid-time", "negative-lock-timeout", "apt-only-option"],
)
def test_bad_arguments_fail_clearly_before_running_anything(host, args, message):
    assert message in host.fails(args)["msg"]
    assert host.calls() == []
