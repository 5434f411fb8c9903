"""Programs that run on the Jetson itself must work with JetPack 4.6's Python 3.6.

vermin parses each file and reports the oldest Python that has every feature it uses.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Scripts and packages (jc_infer, jc_pipeline) copied to or run on the boards (and inside the
# images), and the module_utils that the monitoring role copies beside its GPU exporter.
TARGET_PROGRAMS = sorted(ROOT.glob("roles/*/files/**/*.py")) + [ROOT / "plugins/module_utils/telemetry.py"]


def test_there_are_target_programs_to_check():
    assert TARGET_PROGRAMS


@pytest.mark.parametrize("path", TARGET_PROGRAMS, ids=lambda p: str(p.relative_to(ROOT)))
def test_runs_on_python_3_6(path):
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("vermin")), "--target=3.6-", "--violations", "--no-tips",
         "--eval-annotations", str(path)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, "%s needs a newer Python than 3.6:\n%s" % (path, proc.stdout + proc.stderr)
