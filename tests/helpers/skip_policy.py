"""pytest plugin: a skipped test fails the run unless tests/skips_allowed.yml names it with a
reason; golden-file update switches are refused under CI.

A skip reads as green in a summary ("15 passed, 1 skipped") although the test did not run; the
only end-to-end test once skipped like that whenever a user's lab was up. With --forbid-skips
(tests/harness/run-tests.sh passes it, so `make test` and CI run with it) every skip must match
an entry of the allow-list, by node id and by skip reason (shell-style patterns), and each entry
says why that skip is harmless. Without the option, skips are only reported, as pytest does.

Loaded by tests/conftest.py; tests/unit/test_skip_policy.py loads it with -p skip_policy.
"""

import fnmatch
import os
from pathlib import Path

import pytest

DEFAULT_ALLOWLIST = Path(__file__).resolve().parents[1] / "skips_allowed.yml"

# Environment switches that make a golden-file test write its golden file before comparing with
# it. Under CI that would compare a file with itself; tests/unit/test_skip_policy.py checks that
# every switch the tests read is listed here.
GOLDEN_UPDATE_SWITCHES = ("EDGEAI_JC_UPDATE_GOLDEN", "NFS_GOLDEN_UPDATE")


def running_under_ci(environ=None):
    value = (environ if environ is not None else os.environ).get("CI", "")
    return value.strip().lower() not in ("", "0", "false", "no")


def load_allowlist(path):
    """The allow-list's entries: dicts with test, reason and why, all non-empty strings."""
    import yaml  # here, not at the top: the torch container that runs one unit test file lacks it

    try:
        entries = yaml.safe_load(Path(path).read_text()) or []
    except (OSError, yaml.YAMLError) as exc:
        raise pytest.UsageError("skip allow-list %s cannot be read: %s" % (path, exc))
    if not isinstance(entries, list):
        raise pytest.UsageError("skip allow-list %s must be a list of entries" % path)
    for number, entry in enumerate(entries, start=1):
        if not (isinstance(entry, dict) and set(entry) == {"test", "reason", "why"}
                and all(isinstance(value, str) and value.strip() for value in entry.values())):
            raise pytest.UsageError(
                "skip allow-list %s entry %d must have exactly test, reason and why, each a non-empty "
                "string (why: the reason the skip does not hide a test that should run); got %r"
                % (path, number, entry))
    return entries


def skip_reason(report):
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr)
    return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason


def allowed(nodeid, reason, entries):
    return any(fnmatch.fnmatchcase(nodeid, entry["test"]) and fnmatch.fnmatchcase(reason, entry["reason"])
               for entry in entries)


def pytest_addoption(parser):
    group = parser.getgroup("edgeai-jc skip policy")
    group.addoption("--forbid-skips", action="store_true", default=False,
                    help="fail the run on any skip that the skip allow-list does not name")
    group.addoption("--skip-allowlist", default=str(DEFAULT_ALLOWLIST),
                    help="YAML allow-list of skips (default: %(default)s)")


def pytest_configure(config):
    if running_under_ci():
        switched = [name for name in GOLDEN_UPDATE_SWITCHES if os.environ.get(name)]
        if switched:
            raise pytest.UsageError(
                "%s set under CI: a golden-file update switch makes a test write the file it then "
                "compares with, so it would pass whatever the templates render. Regenerate golden "
                "files on a workstation and commit the reviewed diff." % ", ".join(switched))
    if config.getoption("forbid_skips") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(SkipPolicy(load_allowlist(config.getoption("skip_allowlist")),
                                                 config.getoption("skip_allowlist")), "edgeai-jc-skip-policy")


class SkipPolicy:
    def __init__(self, entries, path):
        self.entries = entries
        self.path = path
        self.refused = []

    def pytest_runtest_logreport(self, report):
        if report.skipped and not hasattr(report, "wasxfail"):
            reason = skip_reason(report)
            if not allowed(report.nodeid, reason, self.entries):
                self.refused.append((report.nodeid, reason))

    def pytest_collectreport(self, report):
        # A whole module skipped at import (pytest.importorskip at module level).
        if report.skipped:
            reason = skip_reason(report)
            if not allowed(report.nodeid, reason, self.entries):
                self.refused.append((report.nodeid, reason))

    def pytest_sessionfinish(self, session):
        if self.refused and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if self.refused:
            terminalreporter.section("skips not on the allow-list (they fail the run)", red=True)
            for nodeid, reason in self.refused:
                terminalreporter.line("%s: %s" % (nodeid, reason))
            terminalreporter.line("A skipped test did not run. Make it run, or add it to %s with the "
                                  "reason the skip is harmless." % self.path)
