"""tests/helpers/skip_policy.py: skips off the allow-list fail the run; golden-file update
switches are refused under CI. Each case runs a real pytest in a subprocess."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from skip_policy import GOLDEN_UPDATE_SWITCHES, allowed, load_allowlist

ROOT = Path(__file__).resolve().parents[2]
HELPERS = ROOT / "tests" / "helpers"

SKIPPING_TESTS = '''
import pytest

def test_runs():
    pass

def test_needs_a_gpu():
    pytest.skip("no GPU on this machine")
'''


def run_pytest(where, *args, env=None, cwd=None):
    # Only the plugin under test (and pytest's own): quick, and no other plugin can interfere.
    environ = dict(os.environ, PYTHONPATH=str(HELPERS), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    for name in ("CI",) + GOLDEN_UPDATE_SWITCHES:
        environ.pop(name, None)
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, str(where)],
                          cwd=cwd or where, env=environ, capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_sample.py").write_text(SKIPPING_TESTS)
    return tmp_path


def allowlist(tmp_path, entries):
    path = tmp_path / "allowed.yml"
    path.write_text(entries)
    return str(path)


def test_a_skip_off_the_allow_list_fails_the_run(project):
    proc = run_pytest(project, "-p", "skip_policy", "--forbid-skips", "--skip-allowlist", allowlist(project, "[]\n"))
    assert proc.returncode == 1, proc.stdout
    assert "test_sample.py::test_needs_a_gpu: no GPU on this machine" in proc.stdout
    assert "1 passed, 1 skipped" in proc.stdout


def test_a_skip_on_the_allow_list_passes(project):
    entries = '- {test: "test_sample.py::test_needs_*", reason: "no GPU *", why: "a GPU run covers it"}\n'
    proc = run_pytest(project, "-p", "skip_policy", "--forbid-skips", "--skip-allowlist", allowlist(project, entries))
    assert proc.returncode == 0, proc.stdout


def test_an_entry_must_match_the_reason_too(project):
    entries = '- {test: "test_sample.py::test_needs_*", reason: "no torch*", why: "another skip"}\n'
    proc = run_pytest(project, "-p", "skip_policy", "--forbid-skips", "--skip-allowlist", allowlist(project, entries))
    assert proc.returncode == 1, proc.stdout


def test_a_module_skipped_at_import_fails_the_run(project):
    (project / "test_sample.py").write_text("import pytest\npytest.importorskip('no_such_module_here')\n")
    proc = run_pytest(project, "-p", "skip_policy", "--forbid-skips", "--skip-allowlist", allowlist(project, "[]\n"))
    assert proc.returncode == 1, proc.stdout
    assert "could not import 'no_such_module_here'" in proc.stdout


def test_without_the_option_a_skip_is_only_reported(project):
    assert run_pytest(project, "-p", "skip_policy").returncode == 0


def test_an_entry_without_its_why_is_refused(project):
    entries = '- {test: "test_sample.py::*", reason: "*"}\n'
    proc = run_pytest(project, "-p", "skip_policy", "--forbid-skips", "--skip-allowlist", allowlist(project, entries))
    assert proc.returncode == 4 and "must have exactly test, reason and why" in proc.stderr, proc.stderr


def test_the_harness_forbids_skips_in_both_pytest_stages():
    script = (ROOT / "tests" / "harness" / "run-tests.sh").read_text()
    assert re.search(r"python -m pytest tests/unit .*--forbid-skips", script)
    assert re.search(r"python -m pytest tests/integration .*--forbid-skips", script)


def test_the_projects_allow_list_is_well_formed_and_covers_the_torch_skips():
    entries = load_allowlist(ROOT / "tests" / "skips_allowed.yml")
    assert allowed("tests/unit/roles/test_jc_infer.py::test_model_runs[cpu]",
                   "could not import 'torch': No module named 'torch'", entries)
    assert not allowed("tests/integration/test_lab.py::test_lab_converges", "a lab is already up", entries)


# --- golden-file update switches under CI ---------------------------------------------------


@pytest.mark.parametrize("switch", GOLDEN_UPDATE_SWITCHES)
def test_a_golden_update_switch_is_refused_under_ci(project, switch):
    proc = run_pytest(project, "-p", "skip_policy", env={"CI": "true", switch: "1"})
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "%s set under CI" % switch in proc.stderr


def test_a_golden_update_switch_still_works_outside_ci(project):
    assert run_pytest(project, "-p", "skip_policy", env={"EDGEAI_JC_UPDATE_GOLDEN": "1"}).returncode == 0


def test_the_projects_golden_tests_refuse_the_switch_under_ci():
    # Through tests/conftest.py, as `make test` under CI would run them; nothing is collected.
    proc = run_pytest("tests/unit/roles/nfs_server", "--collect-only", "-q", cwd=ROOT,
                      env={"CI": "true", "NFS_GOLDEN_UPDATE": "1"})
    assert proc.returncode == 4 and "NFS_GOLDEN_UPDATE set under CI" in proc.stderr, proc.stdout + proc.stderr


def test_every_golden_update_switch_the_tests_read_is_refused():
    read = set()
    for path in (ROOT / "tests").rglob("*.py"):
        read.update(re.findall(r"""environ(?:\.get\(|\[)\s*["']([A-Z0-9_]*GOLDEN[A-Z0-9_]*)["']""", path.read_text()))
    assert read and read <= set(GOLDEN_UPDATE_SWITCHES), read
