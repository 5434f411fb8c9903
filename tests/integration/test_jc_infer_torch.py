"""The torch half of tests/unit/roles/test_jc_infer.py, on a real torch.

The test virtualenv has no torch, so those unit tests skip there. This test runs the same file in
the container with Debian bookworm's CPU torch 1.13 / torchvision 0.14 (tests/helpers/torch_image.py)
and fails unless every test in it ran: a skip there would mean torch was missing again.
"""

import pytest

from torch_image import run_unit_tests

pytestmark = [pytest.mark.docker]


def test_jc_infer_unit_tests_pass_with_torch():
    # --timeout 180: a hang (a forked DataLoader worker stuck on a lock, as once here) fails with a traceback.
    returncode, output = run_unit_tests("tests/unit/roles/test_jc_infer.py", per_test_timeout=180)
    assert returncode == 0, output[-6000:]
    assert "passed" in output and "skipped" not in output, output[-3000:]


def test_the_cpu_path_reports_why_cuda_was_not_preinitialised_with_torch():
    # The one torch test of test_jc_infer_cudainit.py that needs no GPU (the other two run on the
    # GPU machine: benchmarks/startup_device_run.sh, benchmarks/results/startup_h200x2_run5/pytest.txt).
    returncode, output = run_unit_tests(
        "tests/unit/roles/test_jc_infer_cudainit.py::test_a_cpu_run_reports_why_there_was_no_preinit", per_test_timeout=180)
    assert returncode == 0, output[-6000:]
    assert "1 passed" in output and "skipped" not in output, output[-3000:]


def test_the_collector_is_frozen_before_the_window_with_torch():
    # test_jc_infer_gc.py whole (one of its tests needs torch): GC_FREEZE auto and off end to end on the CPU.
    returncode, output = run_unit_tests("tests/unit/roles/test_jc_infer_gc.py", per_test_timeout=180)
    assert returncode == 0, output[-6000:]
    assert "passed" in output and "skipped" not in output, output[-3000:]
