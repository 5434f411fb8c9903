"""The container image with Debian bookworm's CPU torch 1.13 / torchvision 0.14 (python3-torch from
the Debian archive, the same packages the gpu_workloads scenario builds its image from), in which
the integration stage runs the unit tests that need torch (the test virtualenv has none: PyPI's
Linux wheel pulls gigabytes of CUDA libraries and the PyTorch CPU index is not reachable here).

Built once on the project's base image and kept: the tag holds a content key. One recipe for every
test that needs it (tests/integration/test_jc_infer_torch.py, test_jc_resnet_split_torch.py); a
lock keeps two pytest workers from building it at once."""

import fcntl
import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE = "edgeai-jc/debian-systemd:bookworm-amd64"
PACKAGES = ["python3-torch", "python3-torchvision", "python3-pil", "python3-numpy", "python3-pytest",
            "python3-pytest-timeout"]
TAG = "edgeai-jc/torch-cpu:bookworm-" + hashlib.sha256(" ".join([BASE] + PACKAGES).encode()).hexdigest()[:12]
# Debian's grpcio 1.51 and the matching grpcio-tools (jc_pipeline generates its gRPC code with them),
# laid over the torch image for the tests that run the ResNet-50 split as gRPC stages: a layer of its
# own, so adding them does not rebuild (and re-download) the torch image.
GRPC_PACKAGES = ["python3-grpcio", "python3-grpc-tools"]


def docker(*args, timeout=1800, check=True):
    return subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=timeout, check=check)


def torch_image(extra_packages=()):
    """The image's tag, built first when it is not there; with ``extra_packages``, the torch image
    with those Debian packages added on top (its own tag)."""
    extra = list(extra_packages)
    base, packages = (torch_image(), extra) if extra else (BASE, PACKAGES)
    tag = TAG if not extra else TAG + "-" + hashlib.sha256(" ".join(extra).encode()).hexdigest()[:8]
    lock_path = os.path.join(tempfile.gettempdir(), "edgeai-jc-torch-image.lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if docker("image", "inspect", tag, check=False).returncode == 0:
            return tag
        name = "edgeai-jc-torch-build-%d" % os.getpid()
        docker("rm", "-f", name, check=False)
        try:
            docker("run", "--name", name, base, "bash", "-ec",
                   "export DEBIAN_FRONTEND=noninteractive; apt-get update -q; "
                   "apt-get install -y -q --no-install-recommends " + " ".join(packages) + "; "
                   "apt-get clean; rm -rf /var/lib/apt/lists/*")
            docker("commit", name, tag)
        finally:
            docker("rm", "-f", name, check=False)
        return tag


def run_unit_tests(test_file, per_test_timeout, extra_packages=()):
    """pytest on one of tests/unit's files inside the image (with ``extra_packages``: the layered
    one, see torch_image), the checkout mounted read-only. Returns (returncode, output)."""
    proc = docker("run", "--rm", "-e", "PYTHONDONTWRITEBYTECODE=1", "-v", "%s:/src:ro" % ROOT, "-w", "/src",
                  torch_image(extra_packages), "python3", "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                  "--timeout", str(per_test_timeout), test_file, timeout=1200, check=False)
    return proc.returncode, proc.stdout + proc.stderr
