"""Run every Molecule scenario under molecule/ as one test.

Each scenario's own test_sequence (molecule/<name>/molecule.yml, defaulting to
.config/molecule/config.yml) decides what is checked: converge, idempotence, verify, ...
The full log of each scenario is kept in .cache/molecule-logs/<name>.log.
"""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(
    path.parent.name
    for path in (ROOT / "molecule").glob("*/molecule.yml")
)
LOG_DIR = ROOT / ".cache" / "molecule-logs"
# A scenario under qemu (arm64) installs packages slowly; nothing should take longer than this.
SCENARIO_TIMEOUT = int(os.environ.get("EDGEAI_JC_SCENARIO_TIMEOUT", "1800"))


def test_scenarios_exist():
    assert SCENARIOS, "no Molecule scenarios found under molecule/"


@pytest.mark.molecule
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario):
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{scenario}.log"
    with log_path.open("w") as log:
        proc = subprocess.run(
            ["molecule", "test", "--scenario-name", scenario],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=SCENARIO_TIMEOUT,
            check=False,
        )
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-120:]
        pytest.fail(
            f"molecule test -s {scenario} exited {proc.returncode}; last lines of {log_path}:\n"
            + "\n".join(tail),
            pytrace=False,
        )
