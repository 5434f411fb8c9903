"""The torch half of tests/unit/roles/test_jc_infer.py, on a real torch.

The test virtualenv has no torch (PyPI's Linux wheel pulls gigabytes of CUDA libraries, and the
PyTorch CPU index is not reachable here), so those unit tests skip there. This test runs the same
file in a container with Debian bookworm's CPU torch 1.13 / torchvision 0.14 (python3-torch from the
Debian archive, the same packages the gpu_workloads scenario builds its image from) and fails unless
every test in it ran: a skip there would mean torch was missing again.
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


def test_jc_infer_unit_tests_pass_with_torch(torch_image):
    proc = docker("run", "--rm", "-e", "PYTHONDONTWRITEBYTECODE=1", "-v", "%s:/src:ro" % ROOT, "-w", "/src",
                  torch_image, "python3", "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                  # a hang (a forked DataLoader worker stuck on a lock, as once here) fails with a traceback
                  "--timeout", "180", "tests/unit/roles/test_jc_infer.py", timeout=1200, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "passed" in output and "skipped" not in output, output[-3000:]
