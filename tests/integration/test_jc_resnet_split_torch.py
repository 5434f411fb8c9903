"""The torch half of jc_pipeline's ResNet-50 split (tests/unit/roles/test_jc_resnet_split_torch.py),
run in the same Debian bookworm CPU torch 1.13 / torchvision 0.14 container as jc_infer's torch
tests (tests/integration/test_jc_infer_torch.py builds and tags it; the same recipe is here so
either test can build it first). Fails unless every test in that file ran.
"""

import hashlib
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]
BASE = "edgeai-jc/debian-systemd:bookworm-amd64"
PACKAGES = ["python3-torch", "python3-torchvision", "python3-pil", "python3-numpy", "python3-pytest",
            "python3-pytest-timeout"]
TAG = "edgeai-jc/torch-cpu:bookworm-" + hashlib.sha256(" ".join([BASE] + PACKAGES).encode()).hexdigest()[:12]


def docker(*args, timeout=1800, check=True):
    return subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=timeout, check=check)


@pytest.fixture(scope="module")
def torch_image():
    """Debian's CPU torch on the project's base image, built once and kept (the tag holds a content key)."""
    if docker("image", "inspect", TAG, check=False).returncode == 0:
        return TAG
    name = "edgeai-jc-torch-build-%d" % id(TAG)
    docker("rm", "-f", name, check=False)
    try:
        docker("run", "--name", name, BASE, "bash", "-ec",
               "export DEBIAN_FRONTEND=noninteractive; apt-get update -q; "
               "apt-get install -y -q --no-install-recommends " + " ".join(PACKAGES) + "; "
               "apt-get clean; rm -rf /var/lib/apt/lists/*")
        docker("commit", name, TAG)
    finally:
        docker("rm", "-f", name, check=False)
    return TAG


def test_jc_resnet_split_unit_tests_pass_with_torch(torch_image):
    proc = docker("run", "--rm", "-e", "PYTHONDONTWRITEBYTECODE=1", "-v", "%s:/src:ro" % ROOT, "-w", "/src",
                  torch_image, "python3", "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                  "--timeout", "600", "tests/unit/roles/test_jc_resnet_split_torch.py", timeout=1200, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "passed" in output and "skipped" not in output, output[-3000:]
