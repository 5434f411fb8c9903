"""The torch half of jc_pipeline's ResNet-50 split (tests/unit/roles/test_jc_resnet_split_torch.py),
run in the same Debian bookworm CPU torch 1.13 / torchvision 0.14 container as jc_infer's torch
tests (tests/helpers/torch_image.py). Fails unless every test in that file ran.
"""

import pytest

from torch_image import run_unit_tests

pytestmark = [pytest.mark.docker]


def test_jc_resnet_split_unit_tests_pass_with_torch():
    returncode, output = run_unit_tests("tests/unit/roles/test_jc_resnet_split_torch.py", per_test_timeout=600)
    assert returncode == 0, output[-6000:]
    assert "passed" in output and "skipped" not in output, output[-3000:]
