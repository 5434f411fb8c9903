"""The stage program on JetPack 4's userspace: the stage image built from
roles/pipeline_workload/files/Dockerfile with GRPC_SOURCE=pip (pip upgraded to 21.3.1, grpcio and
grpcio-tools 1.48.2 from wheels) on Ubuntu 18.04 with its Python 3.6
(molecule/jetson_base_bionic/build-image.sh), and chains of real gRPC stages inside it.

amd64, not aarch64: the same pins and the same pip path (both architectures have these wheels);
under qemu the build and the chains would take many minutes. What stays unverified: the aarch64
wheels themselves and NVIDIA's l4t base image (not obtainable here).
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import pipeline_matrix

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "roles" / "pipeline_workload" / "files"
BIONIC = "edgeai-jc/jb-ubuntu-bionic:amd64"
# What this machine needs to reach PyPI from a container, and nothing of the image under test: the
# machine's CA bundle (an egress proxy may re-sign TLS) and pypi.org as the index (bionic's pip 9
# defaults to pypi.python.org). Both reach pip through its environment.
MACHINE_LAYER = """FROM {base}
COPY ca-certificates.crt /etc/ssl/certs/edgeai-jc-machine-ca.crt
ENV PIP_CERT=/etc/ssl/certs/edgeai-jc-machine-ca.crt PIP_INDEX_URL=https://pypi.org/simple
"""

CHECK = r"""
import json, sys
import grpc, numpy
from jc_pipeline import monolith, sink
from jc_pipeline.local import LocalChain

result = {"python": "%d.%d" % sys.version_info[:2], "grpc": grpc.__version__, "numpy": numpy.__version__,
          "chains": []}
# 97x61: odd sizes (maxpool drops the last row and column); 1024x1024: float32 images of exactly
# 4 MiB, above gRPC's default receive limit once framed.
for depth, key, count in ((4, "97x61,seed=5", 3), (2, "1024x1024,seed=3", 2), (4, "1024x1024,seed=3", 2)):
    expected = monolith.run(key, count, keep=True)["outputs"]
    with LocalChain(depth) as chain:
        got = sink.run(chain.last, key, count, keep=True)["outputs"]
    result["chains"].append({"depth": depth, "key": key, "images": len(got),
                             "identical": [a.tobytes() for a in got] == [b.tobytes() for b in expected]})
print(json.dumps(result))
"""


def docker(*args, timeout=1800, check=True):
    return subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=timeout, check=check)


@pytest.fixture(scope="module")
def jetpack4_image():
    """Build (once, by content key) the stage image on Ubuntu 18.04 the way a JetPack 4 node gets
    it, through the benchmark's own builder (benchmarks/pipeline_matrix.py: tag = digest of the
    Dockerfile, the program, the base and the grpcio source)."""
    build_script = ROOT / "molecule" / "jetson_base_bionic" / "build-image.sh"
    subprocess.run([str(build_script), BIONIC], check=True, capture_output=True, timeout=1800)
    ca = Path("/etc/ssl/certs/ca-certificates.crt")
    base = "edgeai-jc/jb-ubuntu-bionic-pip:" + hashlib.sha256(build_script.read_bytes() + ca.read_bytes()).hexdigest()[:12]
    with open(os.path.join(tempfile.gettempdir(), "edgeai-jc-jetpack4-image.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if docker("image", "inspect", base, check=False).returncode != 0:
            with tempfile.TemporaryDirectory() as context:
                shutil.copy(ca, Path(context) / "ca-certificates.crt")
                (Path(context) / "Dockerfile").write_text(MACHINE_LAYER.format(base=BIONIC))
                docker("build", "-q", "-t", base, context)
        return pipeline_matrix.build(base, "pip")


def test_stage_image_builds_with_pips_grpcio_on_python_3_6(jetpack4_image):
    out = docker("run", "--rm", "--entrypoint", "python3", jetpack4_image, "-c",
                 "import sys, grpc, google.protobuf as pb; print(sys.version_info[:2], grpc.__version__, pb.__version__)")
    assert out.stdout.split() == ["(3,", "6)", "1.48.2", "3.19.6"]


def test_chains_in_the_image_give_the_monoliths_bytes(jetpack4_image):
    out = docker("run", "--rm", "--entrypoint", "python3", jetpack4_image, "-c", CHECK, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["python"], result["grpc"]) == ("3.6", "1.48.2")
    assert [(c["depth"], c["images"], c["identical"]) for c in result["chains"]] == [
        (4, 3, True), (2, 2, True), (4, 2, True)]


def test_an_unknown_grpc_source_is_refused_by_name():
    # --force-rm: the legacy builder keeps a failed step's container otherwise (one stopped container
    # left on the machine per test run).
    out = docker("build", "-q", "--force-rm", "--build-arg", "GRPC_SOURCE=conda", str(FILES), check=False)
    assert out.returncode != 0
    assert "GRPC_SOURCE must be apt or pip, not 'conda'" in out.stdout + out.stderr
