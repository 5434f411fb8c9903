"""`make lab` installs requirements-dev.txt without the test-only packages named in
tests/harness/test-only-requirements.txt (tests/harness/venv.sh with EDGEAI_JC_TEST_TOOLS=0)."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "harness"


def names(path):
    return [line.split("==")[0].strip().lower() for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def test_every_test_only_package_is_a_pinned_requirement():
    assert set(names(HARNESS / "test-only-requirements.txt")) <= set(names(ROOT / "requirements-dev.txt"))


def test_what_the_lab_runs_is_not_left_out():
    # The controller side of site.yml and benchmark.yml: ansible and its collections, the Docker
    # and Kubernetes clients, the address filters, json_query, the report's plot.
    needed = {"ansible", "ansible-core", "docker", "requests", "kubernetes", "netaddr", "jmespath",
              "matplotlib", "pyyaml", "jinja2"}
    assert needed.isdisjoint(names(HARNESS / "test-only-requirements.txt"))


def test_venv_sh_filters_exactly_the_test_only_pins():
    # The awk program of venv.sh, run on the real files.
    script = (HARNESS / "venv.sh").read_text()
    program = script[script.index("awk '") + 5:script.index("' \\", script.index("awk '"))]
    out = subprocess.run(["awk", program, str(HARNESS / "test-only-requirements.txt"),
                          str(ROOT / "requirements-dev.txt")], capture_output=True, text=True, check=True).stdout
    kept = [line for line in out.splitlines() if line.strip() and not line.startswith("#")]
    left_out = set(names(ROOT / "requirements-dev.txt")) - {line.split("==")[0].lower() for line in kept}
    assert left_out == set(names(HARNESS / "test-only-requirements.txt"))
    assert all("==" in line for line in kept)
