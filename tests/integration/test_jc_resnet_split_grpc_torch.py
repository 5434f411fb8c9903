"""The ResNet-50 split as gRPC stages (tests/unit/roles/test_jc_resnet_split_grpc_torch.py), run in
the Debian bookworm CPU torch container with Debian's grpcio 1.51 and grpcio-tools laid over it
(tests/helpers/torch_image.py). Fails unless every test in that file ran."""

import pytest

from torch_image import GRPC_PACKAGES, run_unit_tests

pytestmark = [pytest.mark.docker]


def test_jc_resnet_split_grpc_stages_pass_with_torch():
    returncode, output = run_unit_tests("tests/unit/roles/test_jc_resnet_split_grpc_torch.py", per_test_timeout=300,
                                        extra_packages=GRPC_PACKAGES)
    assert returncode == 0, output[-6000:]
    assert "passed" in output and "skipped" not in output, output[-3000:]
