"""edgeai.jetson_cluster.devicequery's container_image path against the real Docker daemon.

The unit tests drive container_image with a docker CLI test double; here the module runs
`docker run --rm` through the real CLI and daemon (runc), by ansible-playbook, so ansible-core
deserialises its results as on a real run. The image is a stand-in for a deviceQuery image: the
project's local base image plus a script that prints a real capture of tests/fixtures/devicequery
byte for byte (no registry is reachable, and there is no GPU here). It is made with docker
create/cp/commit, so no image builder is involved.
"""

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "devicequery"
CAPTURES = ROOT / "tests" / "fixtures" / "devicequery"
BASE = "edgeai-jc/debian-systemd:bookworm-amd64"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
IMAGE = "edgeai-jc-test/devicequery-standin:%s" % WORKER
# A registry on a closed local port: a pull fails at once instead of waiting on DNS.
ABSENT = "127.0.0.1:9/edgeai-jc-test/absent:0"


def docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300, check=check)


def noisy_capture(path):
    """The H200 capture with bytes that are not UTF-8, as a console or a Latin-1 log gives them."""
    lines = (CAPTURES / "h200_x1_pass.txt").read_bytes().split(b"\n")
    lines.insert(1, b"\x80\xfe console noise \xff")
    device = next(n for n, line in enumerate(lines) if line.startswith(b"Device 0:"))
    lines.insert(device, b"GPU temperature 41\xb0C")
    path.write_bytes(b"\n".join(lines))


@pytest.fixture(scope="module")
def standin_image(tmp_path_factory):
    stage = tmp_path_factory.mktemp("image")
    captures = stage / "opt" / "devicequery" / "captures"
    captures.mkdir(parents=True)
    for capture in CAPTURES.glob("*.txt"):
        (captures / capture.name).write_bytes(capture.read_bytes())
    noisy_capture(captures / "noisy.txt")
    (stage / "usr" / "local" / "bin").mkdir(parents=True)
    (stage / "usr" / "local" / "bin" / "deviceQuery").write_bytes((HERE / "deviceQuery").read_bytes())
    (stage / "usr" / "local" / "bin" / "deviceQuery").chmod(0o755)
    name = "edgeai-jc-dq-standin-build-%s" % WORKER
    docker("rm", "-f", name, check=False)
    try:
        docker("create", "--name", name, BASE, "true")
        docker("cp", "%s/." % stage, "%s:/" % name)
        docker("commit", "--change", 'CMD ["deviceQuery"]', "--change", "LABEL edgeai.jc.owner=pytest-devicequery",
               name, IMAGE)
    finally:
        docker("rm", "-f", name, check=False)
    yield IMAGE
    docker("rmi", "-f", IMAGE, check=False)


def test_container_image_runs_in_the_real_daemon_and_is_parsed(standin_image, tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
                         "      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(HERE / "container_image.yml"),
         "-e", "dq_image=%s" % standin_image, "-e", "dq_absent_image=%s" % ABSENT],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "failed=0" in output.rsplit("PLAY RECAP", 1)[-1], output[-3000:]
    # docker run --rm really removed every container it started.
    left = docker("ps", "-aq", "--filter", "ancestor=%s" % standin_image).stdout.split()
    assert left == [], "containers of %s left behind: %s" % (standin_image, left)
